// Listing 1,000 services through the API while the reconciler resyncs: p50, p99 and max of
// GET /v1/envs/local/services, and the event loop's longest block in `berth up` meanwhile.
// Goals: p99 at most 50 ms in each of RUNS runs, and no request slower than 100 ms.
//
// Seeds a fresh data dir with SERVICES (default 1000) copies of examples/hello deployed through
// the engine (the real steps against the real local runtime), each with 0 replicas: every
// service has its compute, route, DNS record and health check in the runtime and its records in
// the state (service, revision, operation, inventory), as after real deploys, but no process
// (1,000 node processes would not fit on a laptop). Then starts `berth up` (runtime, API,
// reconciler, resync every 5 s), lets it settle, and then, RUNS (default 3) times, sends sequential
// GETs of the list with the admin token (each read to the end) for at least SECONDS (default 12 s,
// so that every run spans two resyncs of every service) and at least REQUESTS (default 200).
// Baseline, from the same process in the same run: GET /healthz, one after every list request
// (what any request costs on this machine right now). The longest block of `berth up`'s event loop
// during each run comes from its own /metrics (prom-client's monitorEventLoopDelay, 10 ms
// resolution, reset at every scrape). Loopback only; everything it starts is stopped.
//   npm run bench:api
//   SERVICES=1000 RUNS=3 SECONDS=12 BENCH_DATA_DIR=/tmp/keep npm run bench:api   (reuses a seeded dir)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/berth.js');
const HELLO = join(ROOT, 'examples/hello');
const SERVICES = Number(process.env.SERVICES ?? 1000);
const REQUESTS = Number(process.env.REQUESTS ?? 200);
const RUNS = Number(process.env.RUNS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 12);
const SEED_CONCURRENCY = 100;
const GOAL_P99_MS = 50;
const GOAL_MAX_MS = 100;

const { Engine } = await import(join(ROOT, 'dist/engine/engine.js'));
const { SqliteStateStore } = await import(join(ROOT, 'dist/state/sqlite/store.js'));
const { localProvider } = await import(join(ROOT, 'dist/providers/local/index.js'));
const { connectRuntime } = await import(join(ROOT, 'dist/runtime/launcher.js'));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const childEnv = (dataDir) => ({ ...process.env, NO_COLOR: '1', BERTH_HOME: dataDir, BERTH_PROXY_PORT: '0' });

function berth(args, dataDir) {
  return execFileSync(process.execPath, [BIN, ...args], {
    env: childEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

const spec = (name) => ({
  name,
  run: { command: ['node', 'server.js'], cwd: HELLO },
  port: 8080,
  replicas: 0,
  health: { path: '/healthz', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 2 },
  domains: [],
  env: { GREETING: 'v1' },
  protection: { deletion: false },
  drift: 'heal',
});

const env = {
  name: 'local',
  provider: 'local',
  protected: false,
  color: 'green',
  drift: 'heal',
  local: { domain: 'localhost' },
};

/** Deploys svc-0000 … up to SERVICES through the engine (those already there are kept). */
async function seed(dataDir) {
  berth(['ls', '--env', 'local', '--direct'], dataDir); // default config; starts the runtime
  const client = await connectRuntime(dataDir);
  const store = SqliteStateStore.open(join(dataDir, 'state.db'));
  try {
    const engine = new Engine({ store, provider: localProvider(client, await client.info()), env });
    const existing = new Set((await store.listServices('local')).map((record) => record.name));
    const names = Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(4, '0')}`).filter(
      (name) => !existing.has(name),
    );
    if (names.length === 0) return;
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++];
        const outcome = await engine.deploy(spec(name));
        if (outcome.operation.status !== 'succeeded') {
          throw new Error(`deploying ${name} failed: ${outcome.operation.error}`);
        }
      }
    };
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
    console.error(`seeded ${names.length} services in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await store.close();
  }
}

async function startUp(dataDir) {
  const child = spawn(process.execPath, [BIN, 'up', '--port', '0', '--json'], {
    env: childEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const giveUp = Date.now() + 60_000;
  while (!stderr.includes('control plane is up')) {
    if (child.exitCode !== null || Date.now() > giveUp) {
      child.kill('SIGKILL');
      throw new Error(`berth up did not start:\n${stderr}`);
    }
    await sleep(50);
  }
  return { child, api: JSON.parse(stdout.split('\n')[0]).api, stderr: () => stderr };
}

async function list(api, token) {
  const started = performance.now();
  const response = await fetch(`${api}/v1/envs/local/services`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`GET services: ${response.status} ${body.slice(0, 500)}`);
  return { ms, body };
}

async function healthz(api) {
  const started = performance.now();
  const response = await fetch(`${api}/healthz`);
  await response.text();
  return performance.now() - started;
}

/** The longest event loop delay of `berth up` since the previous scrape (prom-client resets it). */
async function loopMaxMs(api, token) {
  const response = await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  const match = /^berth_process_nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match ? Number(match[1]) * 1000 : NaN;
}

function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

async function lastSeq(api, token) {
  const response = await fetch(`${api}/v1/envs/local/events?limit=1`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return (await response.json()).at(-1)?.seq ?? 0;
}

async function settle(api, token) {
  const giveUp = Date.now() + 60_000;
  let seq = await lastSeq(api, token);
  let quietSince = Date.now();
  while (Date.now() - quietSince < 3_000 && Date.now() < giveUp) {
    await sleep(250);
    const now = await lastSeq(api, token);
    if (now !== seq) [seq, quietSince] = [now, Date.now()];
  }
}

async function main(dataDir) {
  await seed(dataDir);
  const up = await startUp(dataDir);
  try {
    const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
    // Warm up (first snapshot, JIT), then let the reconciler's first pass over every service end:
    // until no event was recorded for 3 s (at most 60 s).
    for (let i = 0; i < 10; i++) await list(up.api, token);
    await settle(up.api, token);
    const { body } = await list(up.api, token);
    const statuses = JSON.parse(body);
    if (statuses.length !== SERVICES) throw new Error(`listed ${statuses.length} services, not ${SERVICES}`);
    const health = {};
    for (const status of statuses)
      health[`${status.health}/${status.sync}`] = (health[`${status.health}/${status.sync}`] ?? 0) + 1;

    console.log(
      `GET /v1/envs/local/services, ${SERVICES} services (0 replicas each; ${Object.entries(health)
        .map(([state, count]) => `${count} ${state}`)
        .join(', ')}), ${(body.length / 1024).toFixed(0)} KiB per response; reconciler resync every 5 s`,
    );
    console.log(
      `each run: sequential requests for >= ${SECONDS} s and >= ${REQUESTS} requests; baseline: GET /healthz after each`,
    );
    const fmt = (v) => v.toFixed(1).padStart(7);
    console.log(
      `run  requests  list p50     p99     max   healthz p50     p99     max  loop max   load (1/5/15 min)`,
    );
    let met = true;
    for (let run = 1; run <= RUNS; run++) {
      await loopMaxMs(up.api, token); // resets the maximum
      const times = [];
      const floor = [];
      const until = Date.now() + SECONDS * 1000;
      while (times.length < REQUESTS || Date.now() < until) {
        times.push((await list(up.api, token)).ms);
        floor.push(await healthz(up.api));
      }
      const loopMax = await loopMaxMs(up.api, token);
      const p99 = percentile(times, 99);
      const max = Math.max(...times);
      met &&= p99 <= GOAL_P99_MS && max <= GOAL_MAX_MS;
      console.log(
        `${String(run).padStart(3)}  ${String(times.length).padStart(8)}  ${fmt(percentile(times, 50))} ${fmt(p99)} ${fmt(max)}` +
          `       ${fmt(percentile(floor, 50))} ${fmt(percentile(floor, 99))} ${fmt(Math.max(...floor))}  ${fmt(loopMax)}   ${loadAverage()}`,
      );
    }
    console.log(
      `goal: p99 <= ${GOAL_P99_MS} ms and max <= ${GOAL_MAX_MS} ms in each of ${RUNS} runs: ${met ? 'met' : 'NOT met'}`,
    );
  } finally {
    up.child.kill('SIGINT');
    await new Promise((resolve) => (up.child.exitCode !== null ? resolve() : up.child.on('close', resolve)));
  }
}

const kept = process.env.BENCH_DATA_DIR;
if (kept && !existsSync(kept)) mkdirSync(kept, { recursive: true });
const dataDir = kept ?? mkdtempSync(join(tmpdir(), 'berth-bench-api-'));
try {
  await main(dataDir);
} finally {
  try {
    berth(['runtime', 'stop'], dataDir);
  } catch {
    // not running
  }
  if (!kept) rmSync(dataDir, { recursive: true, force: true });
}
