// Time to detect and time to recover from drift, per resource kind, for N = 1 and N = 20 services.
// Deploys N copies of examples/hello, runs `berth reconcile --env local` (the real CLI, default
// resync 5 s plus the runtime's change feed), then deletes or changes each resource kind behind
// berth's back through the runtime console, for every service at once, and measures:
//   detect:  from the change until the reconciler's drift.seen event for that service
//   recover: from the change until the service is repaired and answers at its host name again
// and, for the compute faults, where the time of a recovery goes (medians): until drift.seen,
// then until the repair starts, each step of the repair, then until the service answers.
// Baseline, in the same run: N copies of examples/hello started by hand at once (node server.js,
// until each answers /healthz): the floor of any recovery that starts new replicas.
// Goal (issue 15): recover p95 at most 3 s at N = 20, for every resource kind and fault.
//   npm run bench:reconcile          (ROUNDS=3 rounds at N=1 by default; SIZES=1,20)
// Loopback only; everything it starts is stopped at the end.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/berth.js');
const HELLO = join(ROOT, 'examples/hello');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SIZES = (process.env.SIZES ?? '1,20').split(',').map(Number);
const ROUND_TIMEOUT_MS = 60_000;
const GOAL_RECOVER_P95_MS = 3_000;
const GOAL_SIZE = 20;

const { Engine } = await import(join(ROOT, 'dist/engine/engine.js'));
const { SqliteStateStore } = await import(join(ROOT, 'dist/state/sqlite/store.js'));
const { localProvider } = await import(join(ROOT, 'dist/providers/local/index.js'));
const { connectRuntime } = await import(join(ROOT, 'dist/runtime/launcher.js'));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const ms = (value) => (value === undefined ? '-' : `${value.toFixed(0)} ms`);
const median = (values) => (values.length ? percentile(values, 50) : undefined);
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

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

/** Starts `size` copies of examples/hello at once, by hand: how long until each answers /healthz. */
async function startByHand(size) {
  const ports = await Promise.all(Array.from({ length: size }, freePort));
  const started = Date.now();
  const children = ports.map((port) =>
    spawn('node', ['server.js'], {
      cwd: HELLO,
      env: { ...process.env, PORT: String(port) },
      stdio: 'ignore',
    }),
  );
  try {
    return await Promise.all(
      ports.map(async (port) => {
        for (;;) {
          if (Date.now() - started > ROUND_TIMEOUT_MS) throw new Error('hello did not start by hand');
          const answer = await new Promise((resolve) => {
            const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
              res.resume();
              resolve(res.statusCode);
            });
            req.on('error', () => resolve(0));
            req.end();
          });
          if (answer === 200) return Date.now() - started;
          await sleep(10);
        }
      }),
    );
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
}

function berth(args, dataDir) {
  return execFileSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], {
    env: { ...process.env, NO_COLOR: '1', BERTH_PROXY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

function get(port, host) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(2_000, () => req.destroy());
    req.end();
  });
}

const spec = (name) => ({
  name,
  run: { command: ['node', 'server.js'], cwd: HELLO },
  port: 8080,
  replicas: 1,
  health: { path: '/healthz', intervalMs: 500, timeoutMs: 400, healthyThreshold: 1, unhealthyThreshold: 2 },
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
const RUNTIME_KIND = { compute: 'services', route: 'routes', dns: 'dns', healthcheck: 'healthchecks' };

async function main(dataDir) {
  berth(['env', 'ls'], dataDir); // writes the default environment config
  berth(['ls', '--env', 'local'], dataDir); // starts the runtime (detached), as any first command would
  const client = await connectRuntime(dataDir);
  const info = await client.info();
  const store = SqliteStateStore.open(join(dataDir, 'state.db'));
  const provider = localProvider(client, info);
  const engine = new Engine({ store, provider, env });
  // Someone else's service (untagged): a modified route sends traffic here.
  const intruder = await client.create('services', {
    name: 'intruder',
    command: ['node', 'server.js'],
    cwd: HELLO,
    env: { GREETING: 'intruder' },
    replicas: 1,
    health: { path: '/healthz', intervalMs: 500, timeoutMs: 400, healthyThreshold: 1, unhealthyThreshold: 2 },
    tags: {},
  });

  const reconciler = spawn(
    process.execPath,
    [BIN, 'reconcile', '--env', 'local', '--json', '--data-dir', dataDir],
    {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const events = [];
  let buffer = '';
  reconciler.stdout.on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        events.push(JSON.parse(line));
      } catch {
        // not an event
      }
    }
  });
  let reconcilerErr = '';
  reconciler.stderr.on('data', (chunk) => (reconcilerErr += chunk));

  const inject = async (name, kind, fault) => {
    const [target] = await client.list(RUNTIME_KIND[kind], { 'berth:service': name, 'berth:env': 'local' });
    if (!target) throw new Error(`${name} has no ${kind}`);
    if (fault === 'delete') return client.remove(RUNTIME_KIND[kind], target.id);
    if (kind === 'compute') return client.update('services', target.id, { env: { GREETING: 'tampered' } });
    if (kind === 'route') return client.update('routes', target.id, { serviceId: intruder.id });
    if (kind === 'dns') return client.update('dns', target.id, { target: 'elsewhere.example.test' });
    return client.update('healthchecks', target.id, { path: '/tampered' });
  };

  const results = {};
  const byHand = {};
  try {
    await sleep(1_000); // the reconciler takes its lease
    for (const size of SIZES) {
      byHand[size] = await startByHand(size);
      const names = Array.from({ length: size }, (_, i) => `svc${i}`);
      for (const name of names) {
        if (!(await store.getService('local', name))) {
          const outcome = await engine.deploy(spec(name));
          if (outcome.operation.status !== 'succeeded')
            throw new Error(`deploy ${name}: ${outcome.operation.error}`);
        }
      }
      const rounds = size === 1 ? ROUNDS : 1;
      for (const kind of Object.keys(RUNTIME_KIND)) {
        for (const fault of ['delete', 'modify']) {
          for (let round = 0; round < rounds; round++) {
            await sleep(500); // quiet between rounds
            const from = events.length;
            const measured = await Promise.all(
              names.map(async (name) => {
                const started = Date.now();
                await inject(name, kind, fault);
                const host = `${name}.local.localhost`;
                for (;;) {
                  if (Date.now() - started > ROUND_TIMEOUT_MS)
                    throw new Error(`${name} ${kind} ${fault}: no recovery\n${reconcilerErr}`);
                  const mine = events.slice(from).filter((e) => e.service === name);
                  const repaired = mine.find((e) => e.type === 'drift.repaired');
                  if (repaired) {
                    const answer = await get(info.proxy.port, host);
                    if (answer.status === 200 && answer.body.startsWith('v1 from')) {
                      const seen = mine.find((e) => e.type === 'drift.seen');
                      const at = (e) => (e ? Date.parse(e.time) - started : undefined);
                      const repairStarted = mine.find((e) => e.type === 'drift.repair.started');
                      // The repair's steps, as the runner recorded them.
                      const steps = {};
                      const operation = await store.getOperation(repaired.operationId);
                      for (const step of operation?.steps ?? []) {
                        if (step.startedAt && step.finishedAt)
                          steps[step.name] = Date.parse(step.finishedAt) - Date.parse(step.startedAt);
                      }
                      return {
                        detect: at(seen),
                        recover: Date.now() - started,
                        phases: {
                          'drift seen': at(seen),
                          'repair started': at(repairStarted),
                          ...steps,
                          repaired: at(repaired),
                        },
                      };
                    }
                  }
                  await sleep(20);
                }
              }),
            );
            const key = `${size}|${kind}|${fault}`;
            results[key] ??= { detect: [], recover: [], phases: {}, loads: [] };
            results[key].loads.push(loadAverage());
            for (const m of measured) {
              if (m.detect !== undefined) results[key].detect.push(m.detect);
              results[key].recover.push(m.recover);
              for (const [phase, value] of Object.entries(m.phases)) {
                if (value !== undefined) (results[key].phases[phase] ??= []).push(value);
              }
            }
          }
        }
      }
    }
  } finally {
    // BENCH_EVENTS=file keeps every event the reconciler printed, and its stderr, for a closer look.
    if (process.env.BENCH_EVENTS) {
      writeFileSync(
        process.env.BENCH_EVENTS,
        `${events.map((e) => JSON.stringify(e)).join('\n')}\n--- stderr\n${reconcilerErr}`,
      );
    }
    reconciler.kill('SIGINT');
    await Promise.race([new Promise((resolve) => reconciler.once('exit', resolve)), sleep(8_000)]);
    if (reconciler.exitCode === null) reconciler.kill('SIGKILL');
    await store.close();
  }

  console.log(`berth reconcile (resync 5 s + runtime change feed), examples/hello with 1 replica each`);
  console.log(
    `${'N'.padStart(3)}  ${'kind'.padEnd(12)}${'fault'.padEnd(8)}${'samples'.padStart(8)}${'detect p50'.padStart(12)}${'p95'.padStart(10)}${'recover p50'.padStart(13)}${'p95'.padStart(10)}   load (1/5/15) after each round`,
  );
  for (const [key, { detect, recover, loads }] of Object.entries(results)) {
    const [size, kind, fault] = key.split('|');
    console.log(
      `${size.padStart(3)}  ${kind.padEnd(12)}${fault.padEnd(8)}${String(recover.length).padStart(8)}` +
        `${ms(percentile(detect, 50)).padStart(12)}${ms(percentile(detect, 95)).padStart(10)}` +
        `${ms(percentile(recover, 50)).padStart(13)}${ms(percentile(recover, 95)).padStart(10)}   ${loads.join(' | ')}`,
    );
  }
  console.log(`\nbaseline: N copies of examples/hello started by hand at once, until each answers /healthz`);
  for (const [size, times] of Object.entries(byHand)) {
    console.log(
      `${size.padStart(3)}  started by hand${String(times.length).padStart(13)}${''.padStart(22)}${ms(percentile(times, 50)).padStart(13)}${ms(percentile(times, 95)).padStart(10)}`,
    );
  }
  console.log(
    `\nwhere a compute recovery goes (medians; drift seen, repair started and repaired: since the fault; the repair's steps: their own time)`,
  );
  for (const [key, { phases }] of Object.entries(results)) {
    const [size, kind, fault] = key.split('|');
    if (kind !== 'compute') continue;
    const parts = Object.entries(phases).map(([phase, values]) => `${phase} ${ms(median(values))}`);
    console.log(`${size.padStart(3)}  compute ${fault}: ${parts.join(', ')}`);
  }
  const atGoal = Object.entries(results).filter(([key]) => key.startsWith(`${GOAL_SIZE}|`));
  if (atGoal.length) {
    const worst = atGoal
      .map(([key, { recover }]) => [key.split('|').slice(1).join(' '), percentile(recover, 95)])
      .sort((a, b) => b[1] - a[1])[0];
    const met = worst[1] <= GOAL_RECOVER_P95_MS;
    console.log(
      `\ngoal: recover p95 <= ${GOAL_RECOVER_P95_MS} ms at N = ${GOAL_SIZE} for every kind and fault: ${met ? 'met' : 'NOT met'} (slowest: ${worst[0]}, p95 ${ms(worst[1])})`,
    );
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
try {
  await main(dataDir);
} finally {
  try {
    berth(['runtime', 'stop'], dataDir);
  } catch {
    // already stopped
  }
  rmSync(dataDir, { recursive: true, force: true });
}
