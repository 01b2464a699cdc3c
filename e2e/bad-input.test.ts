import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';

const HELLO = join(EXAMPLES, 'hello');

function specDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-spec-'));
  cpSync(HELLO, dir, { recursive: true });
  writeFileSync(join(dir, 'berth.yaml'), yaml);
  return dir;
}

describe('bad input and failing versions', () => {
  let runtime: TestRuntime;
  beforeAll(async () => {
    runtime = await startTestRuntime();
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('an invalid spec exits 2 with every diagnostic and changes nothing', async () => {
    const dir = specDir(
      'name: Bad_Name\nreplicas: -1\nhealth:\n  interval: soon\nrun:\n  command: []\ncolour: red\n',
    );
    const result = await runCli(['deploy', dir, '--env', 'local'], { dataDir: runtime.dataDir });
    expect(result.code).toBe(2);
    for (const path of ['name', 'replicas', 'health.interval', 'run.command', 'colour']) {
      expect(result.stderr).toContain(` ${path}`);
    }
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(await runtime.client.list('services')).toEqual([]);
  });

  it('an unknown service exits 2 and lists the services', async () => {
    expect((await runCli(['deploy', HELLO, '--env', 'local'], { dataDir: runtime.dataDir })).code).toBe(0);
    for (const command of [
      ['status', 'nope'],
      ['rollback', 'nope'],
      ['delete', 'nope'],
      ['history', 'nope'],
    ]) {
      const result = await runCli([...command, '--env', 'local'], { dataDir: runtime.dataDir });
      expect(result.code, command.join(' ')).toBe(2);
      expect(result.stderr).toContain('there is no service "nope" in local');
      expect(result.stderr).toContain('services in local: hello');
    }
  });

  it('an unknown environment exits 2 and lists the valid ones', async () => {
    const result = await runCli(['status', '--env', 'prod'], { dataDir: runtime.dataDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/local.*staging.*production/s);
  });

  it('a command that exits at once fails at the health step, quotes its logs, and the previous version keeps serving', async () => {
    const good = await runCli(['deploy', HELLO, '--env', 'staging'], { dataDir: runtime.dataDir });
    expect(good.code, good.stderr).toBe(0);
    const broken = specDir(
      [
        'name: hello',
        'run:',
        '  command: [node, -e, "console.error(\'cannot connect to the database\'); process.exit(3)"]',
        'replicas: 2',
        'health: { path: /healthz }',
      ].join('\n'),
    );
    const result = await runCli(['deploy', broken, '--env', 'staging'], { dataDir: runtime.dataDir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/✗ wait until healthy/);
    expect(result.stdout).toMatch(/failed: .*replicas keep exiting/);
    expect(result.stderr).toMatch(
      /replica \d exited with code 3; its last log lines:\n\s+cannot connect to the database/,
    );
    expect(result.stdout).toContain('returned to revision 1');
    const response = await runtime.request('hello.staging.localhost', '/');
    expect(response.status).toBe(200);
    expect(response.body).toMatch(/^hello from/);
    expect(await runtime.client.list('services', { 'berth:env': 'staging' })).toHaveLength(1);
  });

  it('--no-rollback keeps the failed version for inspection, without traffic', async () => {
    const broken = specDir(
      'name: hello\nrun:\n  command: [node, -e, "process.exit(1)"]\nhealth: { path: /healthz }\n',
    );
    const result = await runCli(['deploy', broken, '--env', 'staging', '--no-rollback'], {
      dataDir: runtime.dataDir,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('returned to revision');
    expect((await runtime.request('hello.staging.localhost', '/')).status).toBe(200);
    expect(await runtime.client.list('services', { 'berth:env': 'staging' })).toHaveLength(2);
  });

  it('deletion protection refuses delete (exit 3) until a deploy lifts it', async () => {
    const dir = specDir(
      'name: keep\nrun:\n  command: [node, server.js]\nhealth: { path: /healthz }\nprotection: { deletion: true }\n',
    );
    expect((await runCli(['deploy', dir, '--env', 'local'], { dataDir: runtime.dataDir })).code).toBe(0);
    const refused = await runCli(['delete', 'keep', '--env', 'local', '--yes'], { dataDir: runtime.dataDir });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('deletion protection');
    writeFileSync(
      join(dir, 'berth.yaml'),
      'name: keep\nrun:\n  command: [node, server.js]\nhealth: { path: /healthz }\n',
    );
    expect((await runCli(['deploy', dir, '--env', 'local'], { dataDir: runtime.dataDir })).code).toBe(0);
    expect(
      (await runCli(['delete', 'keep', '--env', 'local', '--yes'], { dataDir: runtime.dataDir })).code,
    ).toBe(0);
  });

  it('a protected environment needs --env written out and --confirm for delete', async () => {
    const noEnv = await runCli(['deploy', HELLO], {
      dataDir: runtime.dataDir,
      env: { BERTH_ENV: 'production' },
    });
    expect(noEnv.code, noEnv.stderr).toBe(3);
    expect(noEnv.stderr).toContain('production is protected');
    expect((await runCli(['deploy', HELLO, '--env', 'production'], { dataDir: runtime.dataDir })).code).toBe(
      0,
    );
    const unconfirmed = await runCli(['delete', 'hello', '--env', 'production'], {
      dataDir: runtime.dataDir,
    });
    expect(unconfirmed.code).toBe(3);
    expect(unconfirmed.stderr).toContain('--confirm production');
    const wrong = await runCli(['delete', 'hello', '--env', 'production', '--confirm', 'staging'], {
      dataDir: runtime.dataDir,
    });
    expect(wrong.code).toBe(3);
    const confirmed = await runCli(['delete', 'hello', '--env', 'production', '--confirm', 'production'], {
      dataDir: runtime.dataDir,
    });
    expect(confirmed.code, confirmed.stderr).toBe(0);
  });
});
