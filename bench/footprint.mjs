// Footprint of a control plane holding many services: the resident memory and the average CPU of
// a running `berth up` (local runtime, reconciler resync every 5 s) over a minute, with SERVICES
// (default 1000) copies of examples/hello deployed through the engine, 0 replicas each (see
// bench/support/control-plane.mjs). Goals (issue 15): at most 256 MB and 0.25 core.
//
// Baseline, in the same run: the same `berth up` holding no service. Each control plane is started,
// left to settle (its reconciler's first pass over every service is over), then sampled once a
// second for SECONDS (default 60): resident memory (VmRSS, mean and highest sample) and CPU time
// (user + system, from /proc/<pid>/stat) of `berth up` itself, and of the local runtime it uses
// (a process of its own, which also holds the 1,000 services: shown apart). Nothing requests the
// API meanwhile. Loopback only; everything it starts is stopped.
//   npm run bench:footprint
//   SERVICES=1000 SECONDS=60 BENCH_DATA_DIR=/tmp/keep npm run bench:footprint   (reuses a seeded dir)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAverage, seedServices, settle, sleep, startUp, stopRuntime } from './support/control-plane.mjs';

const SERVICES = Number(process.env.SERVICES ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 60);
const GOAL_RSS_MB = 256;
const GOAL_CORES = 0.25;
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) a process used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: the fields after it start past its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
}

function rssMb(pid) {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Samples both processes once a second for `seconds`. */
async function sample(pids, seconds) {
  const startCpu = pids.map(cpuSeconds);
  const started = performance.now();
  const rss = pids.map(() => []);
  const loads = [loadAverage()];
  for (let second = 0; second < seconds; second++) {
    await sleep(started + (second + 1) * 1000 - performance.now());
    pids.forEach((pid, index) => rss[index].push(rssMb(pid)));
    if ((second + 1) % 20 === 0) loads.push(loadAverage());
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    processes: pids.map((pid, index) => ({
      rssMean: rss[index].reduce((a, b) => a + b, 0) / rss[index].length,
      rssMax: Math.max(...rss[index]),
      cores: (cpuSeconds(pid) - startCpu[index]) / elapsed,
    })),
    loads,
  };
}

async function measure(dataDir, services) {
  await seedServices(dataDir, services);
  const up = await startUp(dataDir);
  try {
    await settle(up);
    const response = await fetch(`${up.api}/v1/envs/local/services`, {
      headers: { authorization: `Bearer ${up.token}` },
    });
    const listed = (await response.json()).length;
    if (listed !== services) throw new Error(`berth up lists ${listed} services, not ${services}`);
    return await sample([up.child.pid, up.runtimePid], SECONDS);
  } finally {
    await up.stop();
  }
}

const kept = process.env.BENCH_DATA_DIR;
if (kept && !existsSync(kept)) mkdirSync(kept, { recursive: true });
const dataDir = kept ?? mkdtempSync(join(tmpdir(), 'berth-bench-footprint-'));
const emptyDir = mkdtempSync(join(tmpdir(), 'berth-bench-footprint-empty-'));
try {
  const baseline = await measure(emptyDir, 0);
  stopRuntime(emptyDir);
  const loaded = await measure(dataDir, SERVICES);
  const mb = (v) => `${v.toFixed(0)} MB`.padStart(7);
  const cores = (v) => v.toFixed(3).padStart(6);
  console.log(
    `berth up (local runtime, resync every 5 s), sampled every second for ${SECONDS} s after it settled; nothing requests the API`,
  );
  console.log(
    `                                  RSS mean     max   CPU (cores)   load during the minute (1/5/15)`,
  );
  const rows = [
    ['berth up, 0 services (baseline)', baseline.processes[0], baseline.loads],
    [`berth up, ${SERVICES} services`, loaded.processes[0], loaded.loads],
    ['  its runtime, 0 services', baseline.processes[1], null],
    [`  its runtime, ${SERVICES} services`, loaded.processes[1], null],
  ];
  for (const [what, p, loads] of rows) {
    console.log(
      `${what.padEnd(33)} ${mb(p.rssMean)} ${mb(p.rssMax)}   ${cores(p.cores)}        ${loads ? loads.join(' | ') : ''}`,
    );
  }
  const up = loaded.processes[0];
  const okRss = up.rssMax <= GOAL_RSS_MB;
  const okCpu = up.cores <= GOAL_CORES;
  console.log(
    `goal: berth up holding ${SERVICES} services at most ${GOAL_RSS_MB} MB resident: ${up.rssMax.toFixed(0)} MB (highest sample) ${okRss ? 'met' : 'NOT met'}`,
  );
  console.log(
    `goal: at most ${GOAL_CORES} core on average over the minute: ${up.cores.toFixed(3)} ${okCpu ? 'met' : 'NOT met'}`,
  );
  process.exitCode = okRss && okCpu ? 0 : 1;
} finally {
  stopRuntime(emptyDir);
  stopRuntime(dataDir);
  rmSync(emptyDir, { recursive: true, force: true });
  if (!kept) rmSync(dataDir, { recursive: true, force: true });
}
