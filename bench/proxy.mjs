// Proxy benchmark: examples/hello with 1 replica, measured directly, through the local runtime's
// proxy (berth), through nginx (Debian's nginx-light, 1 worker process, keep-alive upstream
// connections, the same x-forwarded-* headers as berth's proxy) when it is installed, and through
// a bare Node socket pipe (bench/support/socket-pipe.mjs: the ceiling of any proxy written in
// Node), at concurrency 1 and 32, with the same load generator for all: wrk when it is installed
// (C, 1 thread, pinned to the last CPU with taskset, so that it does not move between the CPUs the
// replica and the proxies use), else autocannon (in this Node process). The targets take turns,
// ROUNDS times each; each figure is the median of its rounds. Loopback only; every process it
// starts is stopped.
//   npm run bench:proxy   (BENCH_SECONDS=5, BENCH_ROUNDS=3; BENCH_GENERATOR=wrk|autocannon;
//                          BENCH_PIN=0 to not pin wrk; BENCH_NGINX=0 to leave nginx out;
//                          BENCH_RUNTIME_NODE_ARGS for the runtime's node)
// Goals (issue 15): berth's throughput at c=32 at least 0.9x nginx's; berth's added p50 at c=1 at
// most nginx's + 0.05 ms.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import { setTimeout } from 'node:timers';
import { createServer } from 'node:net';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const HOST = 'hello.bench.localhost';
const GOAL_VS_NGINX = 0.9;
const GOAL_ADDED_OVER_NGINX_MS = 0.05;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
let runtime = null;
const helpers = [];

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(8000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function cleanup() {
  for (const child of helpers) await stop(child);
  await stop(runtime);
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

function which(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** GET / through `url` with the bench's Host: its status (0 when it does not answer). */
function probe(url) {
  return new Promise((resolve) => {
    const req = get(url, { headers: { host: HOST }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2_000, () => req.destroy());
  });
}

async function waitFor200(url, what, child) {
  const giveUp = Date.now() + 15_000;
  while (Date.now() < giveUp) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if ((await probe(url)) === 200) return;
    await sleep(50);
  }
  throw new Error(`${what} does not serve ${HOST}`);
}

/**
 * nginx as a reverse proxy in front of the replica, configured as one would to compare like with
 * like: one worker, keep-alive connections to the upstream, no access log, the Host header passed
 * on and the same x-forwarded-* headers as berth's proxy adds.
 */
async function startNginx(replicaPort) {
  const dir = join(dataDir, 'nginx');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const runningAsRoot = process.getuid?.() === 0;
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${runningAsRoot ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs/error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream hello { server 127.0.0.1:${replicaPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  helpers.push(child);
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitFor200(url, 'nginx', child);
  } catch (error) {
    throw new Error(`${error.message}\n${log}`);
  }
  return url;
}

async function startPipe(replicaPort) {
  const child = spawn(process.execPath, [join(ROOT, 'bench/support/socket-pipe.mjs'), String(replicaPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  helpers.push(child);
  const [line] = await Promise.race([
    new Promise((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve([l]))),
    sleep(10_000).then(() => ['']),
  ]);
  const url = `http://127.0.0.1:${Number(line)}/`;
  await waitFor200(url, 'the socket pipe', child);
  return url;
}

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** A process and its children (nginx's master and worker). */
function withChildren(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return [pid, ...children.map(Number)];
  } catch {
    return [pid];
  }
}

/** CPU seconds (user + system) these processes used so far. */
function cpuSeconds(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    } catch {
      // gone
    }
  }
  return total;
}

const GENERATOR = process.env.BENCH_GENERATOR ?? (which('wrk') ? 'wrk' : 'autocannon');
// Pin the load generator to the last CPU (when taskset exists and there are 2+ CPUs), so that it
// does not migrate between the CPUs that the replica and the proxy use. BENCH_PIN=0 turns it off.
const CPUS = availableParallelism();
const PIN =
  process.env.BENCH_PIN !== '0' && CPUS >= 2 && GENERATOR === 'wrk' && which('taskset')
    ? String(CPUS - 1)
    : null;
const NGINX = process.env.BENCH_NGINX !== '0' && which('nginx', ['-v']);

/** wrk's "12.34us" / "1.20ms" / "1.00s" -> ms */
function wrkTime(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

function measureWrk({ url, connections, seconds }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  args.push('-H', `Host: ${HOST}`, url);
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

function measureAutocannon({ url, connections, seconds }) {
  return new Promise((resolve, reject) => {
    const times = [];
    const instance = autocannon(
      { url, headers: { Host: HOST }, connections, duration: seconds, pipelining: 1 },
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
  let replicaPid = null;
  for (let i = 0; i < 200 && replicaPort === null; i++) {
    const s = await api(rt, 'GET', `/v1/services/${service.id}`);
    if (s.replicaStatus[0]?.state === 'healthy') {
      replicaPort = s.replicaStatus[0].port;
      replicaPid = s.replicaStatus[0].pid;
    } else await sleep(50);
  }
  if (replicaPort === null) throw new Error('the hello replica did not become healthy');

  // Each target with the processes whose CPU time it costs per request (direct: the replica).
  const targets = [
    { name: 'direct', url: `http://127.0.0.1:${replicaPort}/`, pids: () => [replicaPid] },
    { name: 'berth', url: `http://127.0.0.1:${rt.proxyPort}/`, pids: () => [runtime.pid] },
  ];
  await waitFor200(targets[1].url, "berth's proxy");
  if (NGINX) {
    const url = await startNginx(replicaPort);
    const master = helpers.at(-1).pid;
    targets.push({ name: 'nginx', url, pids: () => withChildren(master) });
  }
  const pipeUrl = await startPipe(replicaPort);
  const pipePid = helpers.at(-1).pid;
  targets.push({ name: 'node pipe', url: pipeUrl, pids: () => [pipePid] });

  const generatorLine =
    (GENERATOR === 'wrk'
      ? `load generator: wrk (1 thread${PIN ? `, pinned to CPU ${PIN} with taskset` : ', not pinned'})`
      : `load generator: autocannon (in this Node process; install wrk for a fairer measurement)`) +
    `, ${CPUS} CPUs, median of ${ROUNDS} rounds of ${SECONDS} s, targets in turn` +
    (NGINX ? '' : '\nnginx is not installed (or BENCH_NGINX=0): berth is compared with direct only');
  process.stderr.write(`${generatorLine}\n`);
  const loads = [loadAverage()];
  const rows = [];
  for (const connections of [1, 32]) {
    const samples = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (const target of targets) await measure({ url: target.url, connections, seconds: 1 }); // warm up
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        const pids = target.pids();
        const cpuBefore = cpuSeconds(pids);
        const r = await measure({ url: target.url, connections, seconds: SECONDS });
        // CPU time of the proxy (of the replica, for direct) per request: unlike throughput, it
        // hardly depends on what else the machine runs.
        r.cpuUs = ((cpuSeconds(pids) - cpuBefore) * 1e6) / (r.rps * SECONDS);
        samples[target.name].push(r);
        process.stderr.write(
          `  round ${round + 1}/${ROUNDS} ${target.name} c=${connections}: ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(3)} ms (load ${loadAverage()})\n`,
        );
      }
      loads.push(loadAverage());
    }
    for (const target of targets) {
      const list = samples[target.name];
      rows.push({
        target: target.name,
        connections,
        rps: median(list.map((r) => r.rps)),
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        rpsRange: [Math.min(...list.map((r) => r.rps)), Math.max(...list.map((r) => r.rps))],
        cpuUs: median(list.map((r) => r.cpuUs)),
        errors: list.reduce((sum, r) => sum + r.errors, 0),
      });
    }
  }

  const find = (target, c) => rows.find((r) => r.target === target && r.connections === c);
  console.log(`\n${generatorLine}`);
  console.log(`load average (1/5/15 min) during the rounds: ${loads.join(' | ')}`);
  console.log(
    'target      conns    req/s  (min-max of rounds)  % direct   p50 ms  added p50   p99 ms  errors  CPU µs/req',
  );
  for (const r of rows) {
    const direct = find('direct', r.connections);
    const added = r.target === 'direct' ? '' : (r.p50 - direct.p50).toFixed(3);
    console.log(
      `${r.target.padEnd(11)} ${String(r.connections).padStart(5)} ${Math.round(r.rps).toString().padStart(8)}` +
        `  ${`(${Math.round(r.rpsRange[0])}-${Math.round(r.rpsRange[1])})`.padStart(19)}` +
        `  ${((r.rps / direct.rps) * 100).toFixed(0).padStart(7)}%` +
        ` ${r.p50.toFixed(3).padStart(8)} ${added.padStart(10)} ${r.p99.toFixed(3).padStart(8)} ${String(r.errors).padStart(7)} ${r.cpuUs.toFixed(0).padStart(11)}`,
    );
  }
  console.log(
    'CPU µs/req: CPU time (user + system) of the proxy process(es) per request; for direct, of the replica',
  );
  const berthAdded = find('berth', 1).p50 - find('direct', 1).p50;
  const pipeRatio = find('node pipe', 32).rps / find('direct', 32).rps;
  console.log(
    `\nceiling of a proxy in Node (a bare socket pipe, no HTTP at all): ${(pipeRatio * 100).toFixed(0)}% of direct at c=32, adds ${(find('node pipe', 1).p50 - find('direct', 1).p50).toFixed(3)} ms at c=1`,
  );
  if (!NGINX) {
    console.log(`goals against nginx: not measured (nginx not installed)`);
    return 1;
  }
  const ratio = find('berth', 32).rps / find('nginx', 32).rps;
  const nginxAdded = find('nginx', 1).p50 - find('direct', 1).p50;
  const ok1 = ratio >= GOAL_VS_NGINX;
  const ok2 = berthAdded <= nginxAdded + GOAL_ADDED_OVER_NGINX_MS;
  console.log(
    `throughput berth/nginx at c=32: ${ratio.toFixed(2)}x (goal >= ${GOAL_VS_NGINX}x) ${ok1 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `added p50 at c=1: berth ${berthAdded.toFixed(3)} ms, nginx ${nginxAdded.toFixed(3)} ms (goal: berth <= nginx + ${GOAL_ADDED_OVER_NGINX_MS} ms) ${ok2 ? 'met' : 'NOT met'}`,
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
