// Deploy wall time vs the time examples/hello needs to answer its first health check when started
// by hand. Prints medians over a few runs, measured in the same run on the same machine.
//   npm run bench:deploy            (RUNS=7 by default; set RUNS=N to change)
// Goal: a deploy takes at most 1.5x the by-hand start.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/berth.js');
const HELLO = join(ROOT, 'examples/hello');
const RUNS = Number(process.env.RUNS ?? 7);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value) => `${value.toFixed(0)} ms`;

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
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Starts `count` copies of `node server.js` as a user would; the time until each answers /healthz. */
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

function berth(args, dataDir) {
  return execFileSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], {
    env: { ...process.env, NO_COLOR: '1', BERTH_PROXY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

async function main(dataDir) {
  // Start the runtime once (as the first command of a session would), so runs compare deploys.
  berth(['ls', '--env', 'local'], dataDir);
  const one = [];
  const two = [];
  const wall = [];
  const operation = [];
  for (let run = 0; run < RUNS; run++) {
    one.push(await byHand(1));
    two.push(await byHand(2));
    const started = performance.now();
    berth(['deploy', HELLO, '--env', 'local'], dataDir);
    wall.push(performance.now() - started);
    const [op] = JSON.parse(berth(['history', 'hello', '--env', 'local', '--json'], dataDir)).operations;
    operation.push(Date.parse(op.finishedAt) - Date.parse(op.startedAt));
    berth(['delete', 'hello', '--env', 'local', '--yes'], dataDir);
  }
  const row = (label, value, ratios = true) => {
    const versus = ratios
      ? `${(value / median(one)).toFixed(2)}x`.padStart(8) +
        `${(value / median(two)).toFixed(2)}x`.padStart(8)
      : '';
    console.log(`  ${label.padEnd(52)}${ms(value).padStart(8)}${versus}`);
  };
  console.log(`examples/hello (2 replicas), ${RUNS} runs, medians`);
  console.log(`  ${''.padEnd(52)}${'time'.padStart(8)}${'vs 1'.padStart(8)}${'vs 2'.padStart(8)}`);
  row('by hand: 1 x node server.js until it answers', median(one), false);
  row('by hand: 2 x node server.js until both answer', median(two), false);
  row('berth deploy (whole CLI process, runtime running)', median(wall));
  row('the deploy operation (first to last step)', median(operation));
  console.log('  goal: at most 1.5x');
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
