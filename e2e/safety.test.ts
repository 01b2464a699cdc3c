import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';

const HELLO = join(EXAMPLES, 'hello');

describe('know where you are: identity, audit, restore, timeline', () => {
  let runtime: TestRuntime;
  const cli = (...args: string[]) => runCli(args, { dataDir: runtime.dataDir });

  beforeAll(async () => {
    runtime = await startTestRuntime();
    // staging declares the identity of another runtime, as a production account would another account.
    writeFileSync(
      join(runtime.dataDir, 'berth.config.yaml'),
      [
        'environments:',
        '  local: { provider: local, color: green }',
        `  mine: { provider: local, color: cyan, identity: ${runtime.info.instanceId} }`,
        '  staging: { provider: local, color: yellow, identity: rtm-0000000000000000 }',
        '  production: { provider: local, color: red, protected: true }',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('refuses a runtime whose identity is not the declared one (exit 3), naming both, and audits it', async () => {
    const refused = await cli('deploy', HELLO, '--env', 'staging');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('rtm-0000000000000000');
    expect(refused.stderr).toContain(runtime.info.instanceId);
    expect(await runtime.client.list('services')).toEqual([]);
    const audit = JSON.parse((await cli('audit', '--env', 'staging', '--json')).stdout);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'deploy', interface: 'direct', env: 'staging' });
    expect(audit[0].result).toMatch(/^refused: /);
    const ok = await cli('deploy', HELLO, '--env', 'mine');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('(matches the environment)');
  });

  it('shows the environment and its verified identity, in words even without colour', async () => {
    const status = await cli('status', '--env', 'production');
    expect(status.stderr).toContain(
      `[production] PROTECTED local provider · local runtime ${runtime.info.instanceId}`,
    );
    const whoami = JSON.parse((await cli('whoami', '--env', 'local', '--json')).stdout);
    expect(whoami).toMatchObject({ env: 'local', identity: runtime.info.instanceId, protected: false });
    const prompt = await runCli(['prompt'], { dataDir: runtime.dataDir, env: { BERTH_ENV: 'production' } });
    expect(prompt.stdout.trim()).toBe('berth:production!PROTECTED');
  });

  it('audits every mutation with actor, interface, identity and result', async () => {
    expect((await cli('deploy', HELLO, '--env', 'local')).code).toBe(0);
    expect((await cli('delete', 'hello', '--env', 'local', '--yes')).code).toBe(0);
    const entries = JSON.parse((await cli('audit', '--env', 'local', '--json')).stdout);
    expect(entries.map((e: { action: string }) => e.action)).toEqual(['deploy', 'delete']);
    for (const entry of entries) {
      expect(entry).toMatchObject({
        actor: userInfo().username,
        interface: 'direct',
        identity: runtime.info.instanceId,
      });
      expect(entry.args.service).toBe('hello');
      expect(entry.result).toMatch(/ succeeded$/);
    }
  });

  it('restores a deleted service exactly as it was', async () => {
    expect((await cli('deploy', HELLO, '--env', 'production')).code).toBe(0);
    const deleted = await cli('delete', 'hello', '--env', 'production', '--confirm', 'production');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await runtime.request('hello.production.localhost', '/')).status).toBe(404);
    const restored = await cli('restore', 'hello', '--env', 'production');
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('restored in production at revision 1');
    const response = await runtime.request('hello.production.localhost', '/');
    expect(response.status).toBe(200);
    expect(response.body).toMatch(/^hello from/);
    const again = await cli('restore', 'hello', '--env', 'production');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('nothing to restore');
  });

  it('writes an incident timeline as a Markdown table and as JSON', async () => {
    const md = await cli('timeline', '--env', 'production', '--since', '1h', '--until', 'now');
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain('| Time (UTC) | Event |');
    expect(md.stdout).toMatch(/\| \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z \| hello: deploy started \|/);
    expect(md.stdout).toContain('asked for delete hello in direct mode');
    expect(md.stdout).toContain('hello: delete succeeded');
    const json = JSON.parse(
      (await cli('timeline', '--env', 'production', '--since', '1h', '--format', 'json')).stdout,
    );
    expect(json.entries.length).toBeGreaterThan(4);
    const bad = await cli('timeline', '--env', 'production', '--since', 'yesterday-ish');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be a time');
  });
});
