// Proxy benchmark: examples/hello with 1 replica, measured directly and through the local runtime's
// proxy at concurrency 1 and 32, with the same load generator for both: wrk when it is installed
// (C, 1 thread, pinned to the last CPU with taskset: it takes far less CPU from the replica and the
// proxy than autocannon does), else autocannon (in this Node process). Loopback only; every process
// it starts is stopped.
//   npm run bench:proxy   (BENCH_SECONDS=5, BENCH_ROUNDS=3; BENCH_GENERATOR=wrk|autocannon;
//                          BENCH_PIN=0 to not pin wrk; BENCH_RUNTIME_NODE_ARGS for the runtime's node)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get } from 'node:http';
import { setTimeout } from 'node:timers';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const HOST = 'hello.bench.localhost';
const GOAL_RATIO = 0.6;
const GOAL_ADDED_MS = 0.3;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
let runtime = null;

async function cleanup() {
  if (runtime && runtime.exitCode === null && runtime.signalCode === null) {
    runtime.kill('SIGTERM');
    await Promise.race([new Promise((r) => runtime.once('exit', r)), sleep(8000)]);
  }
  if (runtime) {
    try {
      process.kill(-runtime.pid, 'SIGKILL'); // its process group: replicas included
    } catch {
      // already gone
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}

async function startRuntime() {
  runtime = spawn(
    process.execPath,
    [
      // e.g. BENCH_RUNTIME_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the runtime
      ...(process.env.BENCH_RUNTIME_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      join(ROOT, 'bin/berth.js'),
      'runtime',
      'serve',
      '--data-dir',
      dataDir,
      '--proxy-port',
      '0',
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  runtime.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (runtime.exitCode !== null) throw new Error(`runtime exited:\n${log}`);
    try {
      const discovery = JSON.parse(readFileSync(join(dataDir, 'runtime/runtime.json'), 'utf8'));
      const token = readFileSync(join(dataDir, 'runtime/console.token'), 'utf8').trim();
      const res = await fetch(`${discovery.consoleUrl}/v1/ping`);
      if (res.ok && discovery.pid === runtime.pid) return { ...discovery, token };
    } catch {
      // not yet
    }
    await sleep(50);
  }
  throw new Error(`runtime did not start:\n${log}`);
}

async function api(rt, method, path, body) {
  const res = await fetch(`${rt.consoleUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${rt.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${json.message}`);
  return json;
}

function which(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error;
}

const GENERATOR = process.env.BENCH_GENERATOR ?? (which('wrk') ? 'wrk' : 'autocannon');
// Pin the load generator to the last CPU (when taskset exists and there are 2+ CPUs), so that it
// does not migrate between the CPUs that the replica and the proxy use. BENCH_PIN=0 turns it off.
const CPUS = availableParallelism();
const PIN =
  process.env.BENCH_PIN !== '0' && CPUS >= 2 && GENERATOR === 'wrk' && which('taskset')
    ? String(CPUS - 1)
    : null;

/** wrk's "12.34us" / "1.20ms" / "1.00s" -> ms */
function wrkTime(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function measureWrk({ url, headers, connections, seconds }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const [cmd, argv] = PIN ? ['taskset', ['-c', PIN, 'wrk', ...args]] : ['wrk', args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${out}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const p50 = wrkTime(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
      const p99 = wrkTime(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
      let errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      if (socket) errors += socket.slice(1).reduce((a, b) => a + Number(b), 0);
      if (!Number.isFinite(rps)) return reject(new Error(`cannot parse wrk output:\n${out}`));
      resolve({ rps, p50, p99, errors });
    });
  });
}

function measureAutocannon({ url, headers, connections, seconds }) {
  return new Promise((resolve, reject) => {
    const times = [];
    const instance = autocannon(
      { url, headers, connections, duration: seconds, pipelining: 1 },
      (error, result) => {
        if (error) return reject(error);
        times.sort((a, b) => a - b);
        const p50 = times.length ? times[Math.floor(times.length / 2)] : NaN;
        resolve({
          rps: result.requests.average,
          p50,
          p99: result.latency.p99,
          errors: result.errors + result.non2xx,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
}

const autocannon = GENERATOR === 'wrk' ? null : (await import('autocannon')).default;
const measure = GENERATOR === 'wrk' ? measureWrk : measureAutocannon;

async function main() {
  const rt = await startRuntime();
  const service = await api(rt, 'POST', '/v1/services', {
    name: 'hello',
    command: ['node', 'server.js'],
    cwd: join(ROOT, 'examples/hello'),
    env: { GREETING: 'hello' },
    replicas: 1,
    health: {
      path: '/healthz',
      intervalMs: 1000,
      timeoutMs: 500,
      healthyThreshold: 1,
      unhealthyThreshold: 3,
    },
    tags: { bench: 'proxy' },
  });
  await api(rt, 'POST', '/v1/routes', { host: HOST, serviceId: service.id, tags: {} });
  await api(rt, 'POST', '/v1/dns', { name: HOST, type: 'CNAME', target: 'proxy.berth.localhost', tags: {} });
  let replicaPort = null;
  for (let i = 0; i < 200 && replicaPort === null; i++) {
    const s = await api(rt, 'GET', `/v1/services/${service.id}`);
    if (s.replicaStatus[0]?.state === 'healthy') replicaPort = s.replicaStatus[0].port;
    else await sleep(50);
  }
  if (replicaPort === null) throw new Error('the hello replica did not become healthy');

  const direct = { url: `http://127.0.0.1:${replicaPort}/`, headers: { Host: HOST } };
  const proxied = { url: `http://127.0.0.1:${rt.proxyPort}/`, headers: { Host: HOST } };
  const status = await new Promise((resolve) => {
    const req = get(proxied.url, { headers: { host: HOST } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
  });
  if (status !== 200) throw new Error(`the proxy does not serve ${HOST} (HTTP ${status})`);

  const generatorLine =
    GENERATOR === 'wrk'
      ? `load generator: wrk (1 thread${PIN ? `, pinned to CPU ${PIN} with taskset` : ', not pinned'}), ${CPUS} CPUs, median of ${ROUNDS} alternating ${SECONDS} s measurements`
      : `load generator: autocannon (in this Node process; install wrk for a fairer measurement), ${CPUS} CPUs, median of ${ROUNDS} alternating ${SECONDS} s measurements`;
  process.stderr.write(`${generatorLine}\n`);
  // Direct and proxy alternate, ROUNDS times each; each row is the median of its rounds, which
  // damps the noise of a shared 2-CPU machine (where the scheduler places the processes matters).
  const rows = [];
  for (const connections of [1, 32]) {
    const samples = { direct: [], proxy: [] };
    for (const target of [direct, proxied]) await measure({ ...target, connections, seconds: 1 }); // warm up
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, target] of [
        ['direct', direct],
        ['proxy', proxied],
      ]) {
        const r = await measure({ ...target, connections, seconds: SECONDS });
        samples[name].push(r);
        process.stderr.write(
          `  round ${round + 1}/${ROUNDS} ${name} c=${connections}: ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(3)} ms\n`,
        );
      }
    }
    for (const name of ['direct', 'proxy']) {
      const list = samples[name];
      rows.push({
        target: name,
        connections,
        rps: median(list.map((r) => r.rps)),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        errors: list.reduce((sum, r) => sum + r.errors, 0),
      });
    }
  }

  const find = (target, c) => rows.find((r) => r.target === target && r.connections === c);
  console.log(`\n${generatorLine}`);
  console.log('target  conns   req/s     p50 ms   p99 ms  errors');
  for (const r of rows) {
    console.log(
      `${r.target.padEnd(7)} ${String(r.connections).padStart(5)} ${Math.round(r.rps).toString().padStart(8)} ${r.p50
        .toFixed(3)
        .padStart(9)} ${r.p99.toFixed(3).padStart(8)} ${String(r.errors).padStart(7)}`,
    );
  }
  const ratio = find('proxy', 32).rps / find('direct', 32).rps;
  const added = find('proxy', 1).p50 - find('direct', 1).p50;
  const ok1 = ratio >= GOAL_RATIO;
  const ok2 = added <= GOAL_ADDED_MS;
  console.log(
    `\nthroughput proxy/direct at c=32: ${(ratio * 100).toFixed(1)}%  (goal >= ${GOAL_RATIO * 100}%) ${ok1 ? 'OK' : 'MISSED'}`,
  );
  console.log(
    `added median latency at c=1:    ${added.toFixed(3)} ms (goal <= ${GOAL_ADDED_MS} ms) ${ok2 ? 'OK' : 'MISSED'}`,
  );
  return ok1 && ok2 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`bench failed: ${error.stack ?? error}`);
} finally {
  await cleanup();
}
process.exit(code);
