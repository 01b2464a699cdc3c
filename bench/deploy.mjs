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

/** Starts `node server.js` as a user would and times its first 200 on /healthz. */
async function byHand() {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ['server.js'], {
    cwd: HELLO,
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (response.ok) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    child.kill('SIGKILL');
  }
}

function berth(args, dataDir) {
  return execFileSync(process.execPath, [BIN, ...args, '--data-dir', dataDir], {
    env: { ...process.env, NO_COLOR: '1', BERTH_PROXY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}

const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
try {
  // Start the runtime once (as `berth up` or the first command would) so that runs compare deploys.
  berth(['ls', '--env', 'local'], dataDir);
  const hand = [];
  const wall = [];
  const operation = [];
  for (let run = 0; run < RUNS; run++) {
    hand.push(await byHand());
    const started = performance.now();
    berth(['deploy', HELLO, '--env', 'local'], dataDir);
    wall.push(performance.now() - started);
    const [op] = JSON.parse(berth(['history', 'hello', '--env', 'local', '--json'], dataDir)).operations;
    operation.push(Date.parse(op.finishedAt) - Date.parse(op.startedAt));
    berth(['delete', 'hello', '--env', 'local'], dataDir);
  }
  const base = median(hand);
  console.log(`examples/hello (2 replicas), ${RUNS} runs, medians`);
  console.log(`  by hand: node server.js -> first 200 on /healthz    ${ms(base)}`);
  console.log(
    `  berth deploy (whole CLI process, runtime running)    ${ms(median(wall))}   ratio ${(median(wall) / base).toFixed(2)}x`,
  );
  console.log(
    `  the deploy operation itself (first to last step)    ${ms(median(operation))}   ratio ${(median(operation) / base).toFixed(2)}x`,
  );
  console.log(`  goal: at most 1.5x`);
} finally {
  try {
    berth(['runtime', 'stop'], dataDir);
  } catch {
    // already stopped
  }
  rmSync(dataDir, { recursive: true, force: true });
}
