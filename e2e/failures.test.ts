import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';

/**
 * A deploy that goes wrong tells the truth, as a user sees it in a non-TTY (a pipe) at 80 columns:
 * why the replicas are not healthy while it waits, a crash with its exit code and log lines once,
 * and the final error once.
 */

const NARROW = { COLUMNS: '80' };

/** A service whose health path answers 404 (every other path 200). */
const NOT_READY_SERVER = `
import { createServer } from 'node:http';
createServer((req, res) => {
  res.writeHead(req.url === '/ready' ? 404 : 200);
  res.end('x\\n');
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
`;

/** A service that exits at once with code 3, saying why. */
const CRASHING_SERVER = `
console.log('booting');
console.error('Error: DATABASE_URL is not set');
process.exit(3);
`;

function service(name: string, server: string, replicas: number): string {
  const dir = mkdtempSync(join(tmpdir(), `berth-${name}-`));
  writeFileSync(join(dir, 'server.mjs'), server);
  writeFileSync(
    join(dir, 'berth.yaml'),
    `name: ${name}\nrun:\n  command: [node, server.mjs]\nreplicas: ${replicas}\nhealth:\n  path: /ready\n`,
  );
  return dir;
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('a failing deploy says why', () => {
  let runtime: TestRuntime;
  beforeEach(async () => {
    runtime = await startTestRuntime();
  });
  afterEach(async () => {
    await runtime.stop();
  });

  it('shows "GET /ready → 404" within 5 s of the first check, with elapsed time and deadline; the error once', async () => {
    const dir = service('notready', NOT_READY_SERVER, 2);
    const deploy = spawnCli(['deploy', dir, '--env', 'local', '--health-timeout', '8'], {
      dataDir: runtime.dataDir,
      env: NARROW,
    });
    // The first update is shown as soon as the step waits; the check's result within 5 s of it.
    await deploy.waitForStderr('wait until healthy: ', 30_000);
    await deploy.waitForStderr('GET /ready → 404', 5_000);
    const { code, stdout, stderr } = await deploy.exited;
    expect(code, stderr).toBe(1);

    // Every replica's state and last check, then the elapsed time and the deadline (a line the
    // renderer wrapped to the width is read as one).
    expect(stderr.replace(/\n +/g, ' ')).toMatch(
      /replicas 0,1 starting: GET \/ready → 404 · 0\/2 healthy, \d+s of 8s/,
    );
    // The updates (and the crash reports) sit under the step's line and fit 80 columns.
    const updates = stderr.split('\n').filter((line) => line.startsWith('    '));
    expect(updates.length).toBeGreaterThan(0);
    for (const line of updates) expect(line.length, line).toBeLessThanOrEqual(80);

    // The final error, with the replicas' last log lines, is printed once.
    const all = stdout + stderr;
    expect(count(all, 'not healthy after 8s'), all).toBe(1);
    expect(count(all, 'last log lines'), all).toBe(1);
    expect(count(all, 'listening on'), all).toBe(2); // one line per replica
    expect(stderr).toContain('deploy failed at step "wait until healthy"');
  });

  it('reports a crashing replica with its exit code and its last log lines, once', async () => {
    const dir = service('crashy', CRASHING_SERVER, 1);
    const deploy = await runCli(['deploy', dir, '--env', 'local', '--health-timeout', '30'], {
      dataDir: runtime.dataDir,
      env: NARROW,
    });
    expect(deploy.code, deploy.stderr).toBe(1);
    const all = deploy.stdout + deploy.stderr;
    expect(deploy.stderr).toContain('replica 0 exited with code 3; its last log lines:');
    expect(count(all, 'Error: DATABASE_URL is not set'), all).toBe(1);
    expect(deploy.stdout).toMatch(/replicas keep exiting: replica 0 .*restarted \d+×/);
  });

  it('a failed first deploy returns to nothing: it removes every piece it created and says so', async () => {
    const dir = service('notready', NOT_READY_SERVER, 1);
    const deploy = await runCli(['deploy', dir, '--env', 'local', '--health-timeout', '2'], {
      dataDir: runtime.dataDir,
      env: NARROW,
    });
    expect(deploy.code, deploy.stderr).toBe(1);
    expect(deploy.stderr).toContain('it was never live: removing everything it created');
    expect(deploy.stdout).toMatch(
      /notready was never live, so nothing of it is left: removed .*compute svc-/,
    );

    const ls = await runCli(['runtime', 'ls'], { dataDir: runtime.dataDir, env: NARROW });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).not.toContain('notready');
    expect(await runtime.client.list('services', { 'berth:service': 'notready' })).toEqual([]);
    expect((await runCli(['ls', '--env', 'local'], { dataDir: runtime.dataDir })).stdout).not.toContain(
      'notready',
    );
    const orphans = await runCli(['orphans', '--env', 'local', '--json'], { dataDir: runtime.dataDir });
    expect(JSON.parse(orphans.stdout).orphans).toEqual([]);
  });

  it('with --no-rollback its pieces stay, shown as Failed with its resources and listed by orphans', async () => {
    const dir = service('notready', NOT_READY_SERVER, 1);
    const deploy = await runCli(['deploy', dir, '--env', 'local', '--health-timeout', '2', '--no-rollback'], {
      dataDir: runtime.dataDir,
      env: NARROW,
    });
    expect(deploy.code, deploy.stderr).toBe(1);
    expect(deploy.stdout).toContain('kept for inspection (--no-rollback)');

    const status = await runCli(['status', 'notready', '--env', 'local', '--json'], {
      dataDir: runtime.dataDir,
    });
    const [notready] = JSON.parse(status.stdout);
    expect(notready.health).toBe('Failed');
    expect(notready.healthDetail).toContain('failed at step "wait until healthy"');
    expect(notready.healthDetail).toContain('GET /ready → 404');
    expect(notready.lastFailure).toMatchObject({ step: 'wait until healthy', status: 'failed' });
    expect(notready.resources.map((r: { kind: string }) => r.kind).sort()).toEqual([
      'compute',
      'dns',
      'healthcheck',
    ]);
    const text = await runCli(['status', 'notready', '--env', 'local'], {
      dataDir: runtime.dataDir,
      env: NARROW,
    });
    expect(text.stdout).toMatch(/health: +Failed/);
    expect(text.stdout).toContain('notready-local-g1');

    const ls = await runCli(['ls', '--env', 'local'], { dataDir: runtime.dataDir, env: NARROW });
    expect(ls.stdout).toMatch(/notready +Failed/);

    const orphans = await runCli(['orphans', '--env', 'local', '--json'], { dataDir: runtime.dataDir });
    const listed = JSON.parse(orphans.stdout).orphans as { kind: string; reason: string; service: string }[];
    expect(listed.map((o) => o.kind).sort()).toEqual(['compute', 'dns', 'healthcheck']);
    expect(listed.every((o) => o.reason === 'never-live' && o.service === 'notready')).toBe(true);
  });
});
