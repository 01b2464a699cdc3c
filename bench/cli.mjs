// How fast the CLI starts, against baselines measured in the same run on the same machine:
//   berth --version, berth --help         vs  node -e 0                    goal: at most 1.3x
//   berth status --env local --direct     (runtime running, one service)   goal: at most 300 ms
//   berth deploy examples/hello           vs  starting its 2 replicas by hand  goal: at most 2x
//     (and where its time goes: before its operation's first step, the operation, after its last;
//     and the same deploy from the ES module bundle without V8's code cache, BERTH_CODE_CACHE=0)
//   the shell prompt hook, per prompt     (bash, `berth prompt --init bash`)   goal: at most 10 ms
// Runs alternate (A B A B ...) and each ratio is the median of the pairwise ratios, so a
// comparison holds while the machine's speed drifts. Quote medians; a noisy machine widens them.
//   npm run bench:cli            (RUNS=15 by default; DEPLOY_RUNS=5)
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/berth.js');
const HELLO = join(ROOT, 'examples/hello');
const RUNS = Number(process.env.RUNS ?? 15);
const DEPLOY_RUNS = Number(process.env.DEPLOY_RUNS ?? 5);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;

function timeSync(command, args, env = {}) {
  const started = performance.now();
  const result = spawnSync(command, args, {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const elapsed = performance.now() - started;
  if (result.status !== 0)
    throw new Error(`${[command, ...args].join(' ')} exited ${result.status}: ${result.stderr}`);
  return elapsed;
}

/** A and B in turn, RUNS times each after one warm-up: medians and the median pairwise ratio. */
function versus(a, b, runs = RUNS) {
  a();
  b();
  const as = [];
  const bs = [];
  const ratios = [];
  for (let run = 0; run < runs; run++) {
    as.push(a());
    bs.push(b());
    ratios.push(as.at(-1) / bs.at(-1));
  }
  return { a: median(as), b: median(bs), ratio: median(ratios) };
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function answers(port) {
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** bench/deploy.mjs's baseline: two `node server.js` started as a user would, until both answer. */
async function byHand(count) {
  const ports = await Promise.all(Array.from({ length: count }, freePort));
  const started = performance.now();
  const children = ports.map((port) =>
    spawn(process.execPath, ['server.js'], {
      cwd: HELLO,
      env: { ...process.env, PORT: String(port) },
      stdio: 'ignore',
    }),
  );
  try {
    await Promise.all(ports.map(answers));
    return performance.now() - started;
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
}

function berth(args, dataDir, env = {}) {
  return execFileSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], {
    env: { ...process.env, NO_COLOR: '1', BERTH_PROXY_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

function row(label, value, note) {
  console.log(`  ${label.padEnd(50)}${value.padStart(10)}  ${note}`);
}

async function main(dataDir) {
  // V8's code cache of each command (bin/code-cache.js), written by the first run of each: the
  // warm-up runs below, and the first deploy.
  process.env.BERTH_CODE_CACHE_DIR = join(dataDir, 'code-cache');
  const [load1] = loadavg();
  console.log(`berth CLI start-up; load average ${load1.toFixed(2)} at start; medians of ${RUNS} runs`);
  const node = () => timeSync(process.execPath, ['-e', '0']);
  const version = versus(() => timeSync(process.execPath, [BIN, '--version']), node);
  const help = versus(() => timeSync(process.execPath, [BIN, '--help']), node);
  row('node -e 0 (baseline)', ms(version.b), '');
  row('berth --version', ms(version.a), `${version.ratio.toFixed(2)}x node   goal <= 1.3x`);
  row('berth --help', ms(help.a), `${help.ratio.toFixed(2)}x node   goal <= 1.3x`);

  // The runtime is started once, as the first command of a session would; then one service.
  berth(['deploy', HELLO, '--env', 'local'], dataDir);
  const statusArgs = [BIN, 'status', '--env', 'local', '--direct', '--data-dir', dataDir];
  const status = versus(() => timeSync(process.execPath, statusArgs), node);
  row('berth status --env local --direct', ms(status.a), `${status.ratio.toFixed(2)}x node   goal <= 300 ms`);
  row('reconcile: Ctrl-C until the process is gone', ms(await reconcileStop(dataDir)), 'goal <= 1000 ms');
  berth(['delete', 'hello', '--env', 'local', '--yes'], dataDir);

  const hand = [];
  const deploy = [];
  const ratios = [];
  const uncached = [];
  const uncachedRatios = [];
  // Where a deploy's time goes, by the operation's own first and last step (wall clock times).
  const before = [];
  const operation = [];
  const after = [];
  for (let run = 0; run < DEPLOY_RUNS; run++) {
    hand.push(await byHand(2));
    const startedAt = Date.now();
    const started = performance.now();
    berth(['deploy', HELLO, '--env', 'local'], dataDir);
    deploy.push(performance.now() - started);
    const endedAt = startedAt + deploy.at(-1);
    ratios.push(deploy.at(-1) / hand.at(-1));
    const [op] = JSON.parse(berth(['history', 'hello', '--env', 'local', '--json'], dataDir)).operations;
    before.push(Date.parse(op.startedAt) - startedAt);
    operation.push(Date.parse(op.finishedAt) - Date.parse(op.startedAt));
    after.push(endedAt - Date.parse(op.finishedAt));
    berth(['delete', 'hello', '--env', 'local', '--yes'], dataDir);
    const esmStarted = performance.now();
    berth(['deploy', HELLO, '--env', 'local'], dataDir, { BERTH_CODE_CACHE: '0' });
    uncached.push(performance.now() - esmStarted);
    uncachedRatios.push(uncached.at(-1) / hand.at(-1));
    berth(['delete', 'hello', '--env', 'local', '--yes'], dataDir);
  }
  row('by hand: 2 x node server.js until both answer', ms(median(hand)), `(${DEPLOY_RUNS} runs)`);
  row(
    'berth deploy examples/hello --env local',
    ms(median(deploy)),
    `${median(ratios).toFixed(2)}x by hand   goal <= 2x`,
  );
  row('  before its operation: node, loading, config, spec', ms(median(before)), '');
  row('  the operation: its replicas start, health, route', ms(median(operation)), '');
  row('  after it: output, closing, exit', ms(median(after)), '');
  row(
    '  the same without the code cache (ES modules)',
    ms(median(uncached)),
    `${median(uncachedRatios).toFixed(2)}x by hand`,
  );

  promptHook(dataDir);
  console.log(`load average ${loadavg()[0].toFixed(2)} at the end`);
}

/** From SIGINT to the exit of a `berth reconcile` that leads its environment (median of 3). */
async function reconcileStop(dataDir) {
  const times = [];
  for (let run = 0; run < 3; run++) {
    const child = spawn(process.execPath, [BIN, 'reconcile', '--env', 'local', '--data-dir', dataDir], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    while (!out.includes('now watches')) await new Promise((resolve) => setTimeout(resolve, 20));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const started = performance.now();
    child.kill('SIGINT');
    await exited;
    times.push(performance.now() - started);
  }
  return median(times);
}

/** The bash hook's cost per prompt: the hook run 1000 times in one bash, against an empty function. */
function promptHook(dataDir) {
  const hook = execFileSync(process.execPath, [
    BIN,
    'prompt',
    '--init',
    'bash',
    '--data-dir',
    dataDir,
  ]).toString();
  const script = join(dataDir, 'prompt-bench.sh');
  writeFileSync(
    script,
    [
      hook,
      '__berth_noop() { :; }',
      'TIMEFORMAT=%R',
      '{ time for i in {1..1000}; do __berth_prompt; done; } 2>&1',
      '{ time for i in {1..1000}; do __berth_noop; done; } 2>&1',
      '',
    ].join('\n'),
  );
  const [hookSeconds, noopSeconds] = execFileSync('bash', ['--norc', '--noprofile', script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BERTH_HOME: dataDir },
  })
    .toString()
    .trim()
    .split('\n')
    .map(Number);
  row(
    'shell prompt hook (bash), per prompt',
    ms(hookSeconds),
    `an empty function: ${ms(noopSeconds)}   goal <= 10 ms`,
  );
}

const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-cli-'));
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
