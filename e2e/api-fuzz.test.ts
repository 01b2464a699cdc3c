/**
 * Fuzzing the API: schemathesis (pip install schemathesis) reads /openapi.json of a real
 * `berth up` (fresh data dir, free ports, examples/hello deployed) and sends generated requests,
 * valid and invalid, to every route, mutations included, in every phase (examples, coverage,
 * fuzzing, stateful), for a bounded time. It runs every check: no 5xx; every response matches the
 * status, content type, headers and schema the document declares; no schema-valid request is
 * rejected and no schema-violating one accepted (the document is as strict as the validation);
 * undeclared methods get 405 with Allow; authentication is not ignored.
 *
 * e2e/schemathesis.toml steers path parameters to real environments and services most of the
 * time, and pins what a generated deploy may run to examples/hello, so that the deploys, deletes,
 * rollbacks and restores it sends do real work without running anything else.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { startUp, stopRuntime } from '../test/helpers/control-plane.js';

const CONFIG = fileURLToPath(new URL('./schemathesis.toml', import.meta.url));
/** Runs schemathesis's CLI with the python3 that pip installed it for, whatever is on PATH. */
const LAUNCH =
  'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "schemathesis"; sys.exit(schemathesis())';
/** The fuzzing budget, and the hard limit on the whole schemathesis run. */
const FUZZ_SECONDS = 60;
const HARD_LIMIT_MS = 120_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function schemathesisVersion(): string | null {
  const result = spawnSync('python3', ['-c', LAUNCH, '--version'], { encoding: 'utf8', timeout: 30_000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

function runSchemathesis(
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', LAUNCH, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, HARD_LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

describe('the API under schemathesis', () => {
  it('answers generated requests to every route without a 5xx, each response matching its schema', async () => {
    const version = schemathesisVersion();
    expect(version, 'schemathesis is not installed: python3 -m pip install schemathesis').toBeTruthy();

    const dataDir = mkdtempSync(join(tmpdir(), 'berth-fuzz-test-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    // Only node on PATH for the control plane, its runtime and the replicas they start.
    const up = await startUp(dataDir, { PATH: dirname(process.execPath) });
    cleanups.push(async () => {
      await up.kill();
      await stopRuntime(dataDir);
    });
    const deploy = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'local'], { dataDir });
    expect(deploy.code, deploy.stderr).toBe(0);

    const work = mkdtempSync(join(tmpdir(), 'berth-fuzz-work-'));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const run = await runSchemathesis(
      [
        '--config-file',
        CONFIG,
        'run',
        `${up.api}/openapi.json`,
        '--checks',
        'all',
        '--phases',
        'examples,coverage,fuzzing,stateful',
        '--max-examples',
        '30',
        '--max-time',
        String(FUZZ_SECONDS),
        '--seed',
        '1',
        '--generation-database',
        'none',
        '--no-color',
        '--output-truncate',
        'false',
      ],
      {
        cwd: work,
        env: { BERTH_FUZZ_TOKEN: up.token, BERTH_FUZZ_HELLO_DIR: join(EXAMPLES, 'hello') },
      },
    );
    const report = run.output.length > 20_000 ? `…${run.output.slice(-20_000)}` : run.output;
    expect(run.timedOut, `schemathesis ran past ${HARD_LIMIT_MS / 1000}s:\n${report}`).toBe(false);
    expect(run.code, report).toBe(0);
    expect(run.output).toMatch(/Test cases:\s+\d+ generated, \d+ passed/);
    // Nothing the server logged as a bug either (a 5xx schemathesis did not see).
    expect(up.cli.output().stderr).not.toContain('internal error');

    // Still alive and still serving after all that.
    const health = await fetch(`${up.api}/healthz`);
    expect(health.status).toBe(200);
  }, 200_000);
});
