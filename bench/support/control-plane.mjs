// Shared by the benchmarks that need a control plane holding many services (bench/api-list.mjs,
// bench/footprint.mjs): seeding a data dir through the engine, starting `berth up`, waiting until
// its reconciler's first pass is over, and stopping it.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/berth.js');
const HELLO = join(ROOT, 'examples/hello');
const SEED_CONCURRENCY = 100;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const childEnv = (dataDir) => ({
  ...process.env,
  NO_COLOR: '1',
  BERTH_HOME: dataDir,
  BERTH_PROXY_PORT: '0',
});
/** The load average of the machine (1, 5 and 15 minutes), as `uptime` prints it. */
export const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

export function berth(args, dataDir) {
  return execFileSync(process.execPath, [BIN, ...args], {
    env: childEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

/** examples/hello with 0 replicas: every resource kind exists, but no process runs. */
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

/**
 * Deploys svc-0000 … up to `count` through the engine (the real steps against the real local
 * runtime), each with 0 replicas: every service has its compute, route, DNS record and health check
 * in the runtime and its records in the state (service, revision, operation, inventory), as after
 * real deploys, but no process (1,000 node processes would not fit on a laptop). Services already
 * there are kept, so a kept data dir is seeded once.
 */
export async function seedServices(dataDir, count) {
  const { Engine } = await import(join(ROOT, 'dist/engine/engine.js'));
  const { SqliteStateStore } = await import(join(ROOT, 'dist/state/sqlite/store.js'));
  const { localProvider } = await import(join(ROOT, 'dist/providers/local/index.js'));
  const { connectRuntime } = await import(join(ROOT, 'dist/runtime/launcher.js'));
  berth(['ls', '--env', 'local', '--direct'], dataDir); // default config; starts the runtime
  if (count === 0) return;
  const client = await connectRuntime(dataDir);
  const store = SqliteStateStore.open(join(dataDir, 'state.db'));
  try {
    const engine = new Engine({ store, provider: localProvider(client, await client.info()), env });
    const existing = new Set((await store.listServices('local')).map((record) => record.name));
    const names = Array.from({ length: count }, (_, i) => `svc-${String(i).padStart(4, '0')}`).filter(
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

/** Starts `berth up --port 0` on the data dir: its process, API URL, admin token and runtime pid. */
export async function startUp(dataDir) {
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
  const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
  const runtimePid = JSON.parse(readFileSync(join(dataDir, 'runtime/runtime.json'), 'utf8')).pid;
  return {
    child,
    api: JSON.parse(stdout.split('\n')[0]).api,
    token,
    runtimePid,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGINT');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('close', resolve)));
    },
  };
}

async function events(up, query) {
  const response = await fetch(`${up.api}/v1/envs/local/events?${query}`, {
    headers: { authorization: `Bearer ${up.token}` },
  });
  return response.json();
}

/**
 * Waits until the control plane recorded no event for 3 s (its first pass is over), at most 60 s.
 * The newest event is looked up once (the API reads every event of the environment for it); after
 * that only events after it are asked for, so that waiting costs the control plane next to nothing.
 */
export async function settle(up) {
  const giveUp = Date.now() + 60_000;
  let seq = (await events(up, 'limit=1')).at(-1)?.seq ?? 0;
  let quietSince = Date.now();
  while (Date.now() - quietSince < 3_000 && Date.now() < giveUp) {
    await sleep(250);
    const fresh = await events(up, `after=${seq}&limit=1`);
    if (fresh.length > 0) [seq, quietSince] = [fresh.at(-1).seq, Date.now()];
  }
}

/** Stops the data dir's local runtime (and so every replica), if it runs. */
export function stopRuntime(dataDir) {
  try {
    berth(['runtime', 'stop'], dataDir);
  } catch {
    // not running
  }
}
