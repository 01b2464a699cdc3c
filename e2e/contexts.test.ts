/**
 * Contexts: `berth login` saves a control plane (URL + token, 0600) and makes it current;
 * `berth context ls|use|rm`; `--api`/$BERTH_API win over the context, `--direct` over everything.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUp, stopRuntime } from '../test/helpers/control-plane.js';
import { runCli } from '../test/helpers/cli.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('contexts', () => {
  it('login saves a context, the CLI follows it, $BERTH_API wins, and a bad token saves nothing', async () => {
    const server = mkdtempSync(join(tmpdir(), 'berth-ctx-server-'));
    const client = mkdtempSync(join(tmpdir(), 'berth-ctx-client-'));
    const up = await startUp(server);
    cleanups.push(async () => {
      await up.kill();
      await stopRuntime(server);
      rmSync(server, { recursive: true, force: true });
      rmSync(client, { recursive: true, force: true });
    });

    // Another data dir (another machine, as far as the CLI can tell): nothing but the context.
    const bad = await runCli(['login', up.api, '--token', 'berth_not-a-token'], { dataDir: client });
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('does not accept this token');
    expect(() => statSync(join(client, 'contexts.json'))).toThrow();

    const login = await runCli(['login', up.api, '--token', up.token, '--name', 'team'], { dataDir: client });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('context "team" is current');
    expect(statSync(join(client, 'contexts.json')).mode & 0o777).toBe(0o600);

    const listed = await runCli(['context', 'ls', '--json'], { dataDir: client });
    const parsed = JSON.parse(listed.stdout) as {
      current: string;
      contexts: { name: string; token: string }[];
    };
    expect(parsed.current).toBe('team');
    expect(parsed.contexts).toEqual([expect.objectContaining({ name: 'team', url: up.api, token: 'saved' })]);
    expect(listed.stdout).not.toContain(up.token);

    const whoami = await runCli(['whoami', '--env', 'local', '--json'], { dataDir: client });
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ mode: 'api', actor: 'local-admin' });

    // $BERTH_API wins over the context (here: one that does not answer, so exit 4).
    const dead = 'http://127.0.0.1:9';
    const overridden = await runCli(['whoami', '--env', 'local'], {
      dataDir: client,
      env: { BERTH_API: dead },
    });
    expect(overridden.code, overridden.stderr).toBe(4);
    expect(overridden.stderr).toContain(dead);

    const unknown = await runCli(['context', 'use', 'nope'], { dataDir: client });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('contexts: team');

    // The control plane dies (SIGKILL): the context says an API should answer, so exit 4.
    await up.kill('SIGKILL');
    const down = await runCli(['ls', '--env', 'local'], { dataDir: client });
    expect(down.code, down.stderr).toBe(4);
    expect(down.stderr).toContain('--direct');

    const none = await runCli(['context', 'use', 'none'], { dataDir: client });
    expect(none.code, none.stderr).toBe(0);
    const removed = await runCli(['context', 'rm', 'team'], { dataDir: client });
    expect(removed.code, removed.stderr).toBe(0);
    expect(readFileSync(join(client, 'contexts.json'), 'utf8')).not.toContain(up.token);
  }, 90_000);
});
