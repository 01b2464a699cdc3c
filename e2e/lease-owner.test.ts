/**
 * A killed CLI's operation is always resumed by the next command, never refused (exit 3), even
 * when the killed CLI's PID has been given to another live process: lease owners carry the
 * process's start time. Real processes, a real SIGKILL, the real SQLite store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processStartTime } from '../src/engine/owner.js';
import { EXAMPLES, runCli, spawnCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';

const HELLO = join(EXAMPLES, 'hello');

/** Starts a deploy and SIGKILLs it (a real SIGKILL) while it is inside `step`. */
async function killDeployInStep(runtime: TestRuntime, env: string, step: string): Promise<void> {
  const cli = spawnCli(['deploy', HELLO, '--env', env], {
    dataDir: runtime.dataDir,
    env: { BERTH_TEST_PAUSE_IN_STEP: step },
  });
  await cli.waitForStderr(`paused in step "${step}"`);
  cli.child.kill('SIGKILL');
  expect((await cli.exited).code).toBeNull();
}

describe('a killed CLI is resumed, never refused', () => {
  let runtime: TestRuntime;
  let reuser: ChildProcess | null = null;
  beforeAll(async () => {
    runtime = await startTestRuntime();
  });
  afterAll(async () => {
    reuser?.kill('SIGKILL');
    await runtime.stop();
  });

  it('SIGKILL mid-deploy: the next deploy resumes it', async () => {
    await killDeployInStep(runtime, 'local', 'wait until healthy');
    const next = await runCli(['deploy', HELLO, '--env', 'local'], { dataDir: runtime.dataDir });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain('interrupted during step "wait until healthy"');
    expect((await runtime.request('hello.local.localhost', '/')).status).toBe(200);
  }, 60_000);

  it('SIGKILL mid-deploy, then its PID reused by a live process: still resumed, not refused', async () => {
    await killDeployInStep(runtime, 'staging', 'wait until healthy');
    // Reproduce PID reuse: the lease now names a PID that a live process holds, with the start
    // time the killed CLI had (not the live process's), and a lease that has not expired.
    reuser = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120_000)'], { stdio: 'ignore' });
    const db = new Database(join(runtime.dataDir, 'state.db'));
    try {
      const row = db
        .prepare(`SELECT id, lease_owner FROM operations WHERE env = 'staging' AND finished_at IS NULL`)
        .get() as { id: string; lease_owner: string };
      const killedStart = row.lease_owner.split('/')[2];
      expect(killedStart).not.toBe(processStartTime(reuser.pid!));
      db.prepare('UPDATE operations SET lease_owner = ?, lease_expires_at = ? WHERE id = ?').run(
        `${hostname()}/${reuser.pid}/${killedStart}/a1b2c3`,
        Date.now() + 10 * 60_000,
        row.id,
      );
    } finally {
      db.close();
    }

    const next = await runCli(['deploy', HELLO, '--env', 'staging'], { dataDir: runtime.dataDir });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toMatch(/already has an active/);
    expect(next.stderr).toContain('interrupted during step "wait until healthy"');
    expect((await runtime.request('hello.staging.localhost', '/')).status).toBe(200);
  }, 60_000);
});
