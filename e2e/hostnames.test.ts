/**
 * Hostname theft: a service that lists another service's host name in `domains:` (any case, a
 * trailing dot, another environment on the same runtime) is refused with exit 2 naming the owner,
 * before anything changes, and the proxy keeps routing the name to its owner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';

const HELLO = join(EXAMPLES, 'hello');

describe('hostname ownership', () => {
  let runtime: TestRuntime;
  let specs: string;
  const cli = (...args: string[]) => runCli(args, { dataDir: runtime.dataDir });

  /** A berth.yaml for a service that runs the hello example with this greeting and these domains. */
  function spec(name: string, greeting: string, domains: string[]): string {
    const dir = join(specs, `${name}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'berth.yaml'),
      [
        `name: ${name}`,
        'run:',
        '  command: [node, server.js]',
        `  cwd: ${JSON.stringify(HELLO)}`,
        'replicas: 1',
        'health: { path: /healthz }',
        `env: { GREETING: ${greeting} }`,
        `domains: ${JSON.stringify(domains)}`,
      ].join('\n'),
    );
    return dir;
  }

  /** Everything the runtime holds for a service, by berth's tags. */
  async function resourcesOf(service: string): Promise<number> {
    let count = 0;
    for (const kind of ['services', 'routes', 'dns', 'healthchecks'] as const) {
      count += (await runtime.client.list(kind, { 'berth:service': service })).length;
    }
    return count;
  }

  beforeAll(async () => {
    runtime = await startTestRuntime();
    specs = mkdtempSync(join(tmpdir(), 'berth-hostnames-'));
    writeFileSync(
      join(runtime.dataDir, 'berth.config.yaml'),
      [
        'environments:',
        '  local: { provider: local, color: green }',
        '  production: { provider: local, color: red }',
      ].join('\n'),
    );
    const prod = await cli(
      'deploy',
      spec('hello', 'owner-in-production', ['shop.example.test']),
      '--env',
      'production',
    );
    expect(prod.code, prod.stderr).toBe(0);
    const local = await cli('deploy', spec('hello', 'owner-in-local', []), '--env', 'local');
    expect(local.code, local.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await runtime?.stop();
    rmSync(specs, { recursive: true, force: true });
  });

  it.each([
    ['another environment’s generated name', 'hello.production.localhost', 'service hello in production'],
    [
      'the same environment’s name, upper case with a trailing dot',
      'HELLO.local.localhost.',
      'service hello in local',
    ],
    ['a name under another service’s name', 'api.hello.production.localhost', 'service hello in production'],
    [
      'a name reserved for an environment that has no such service yet',
      'admin.staging.localhost',
      'service admin in staging',
    ],
    [
      'a custom domain another environment’s service holds',
      'SHOP.example.test',
      'service hello in production',
    ],
  ])('refuses %s (exit 2, naming the owner) and changes nothing', async (_what, stolen, owner) => {
    const result = await cli('deploy', spec('thief', 'stolen', [stolen]), '--env', 'local');
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(owner);
    expect(result.stderr).toContain(stolen.toLowerCase().replace(/\.$/, ''));
    expect(await resourcesOf('thief')).toBe(0);
    const history = await cli('history', 'thief', '--env', 'local', '--json');
    expect(history.code).not.toBe(0); // not even a service record or a revision
  });

  it('keeps routing every name to its owner, matched case-insensitively without a trailing dot', async () => {
    for (const host of ['hello.production.localhost', 'HELLO.Production.localhost.', 'shop.example.test']) {
      const response = await runtime.request(host);
      expect(response.status, host).toBe(200);
      expect(response.body).toContain('owner-in-production');
    }
    const local = await runtime.request('Hello.LOCAL.localhost.');
    expect(local.body).toContain('owner-in-local');
  });

  it('audits the refusal in the environment it was asked of', async () => {
    const audit = JSON.parse((await cli('audit', '--env', 'local', '--json')).stdout) as {
      action: string;
      args: { service?: string };
      result: string;
    }[];
    const refusals = audit.filter((entry) => entry.args.service === 'thief');
    expect(refusals.length).toBeGreaterThanOrEqual(5);
    for (const entry of refusals) expect(entry.result).toMatch(/^refused: thief cannot use /);
  });

  it('lets the owner keep and redeploy its own names, and frees a name its owner gave up', async () => {
    const again = await cli(
      'deploy',
      spec('hello', 'owner-in-production', ['shop.example.test']),
      '--env',
      'production',
    );
    expect(again.code, again.stderr).toBe(0);
    const moved = await cli('deploy', spec('hello', 'owner-in-production', []), '--env', 'production');
    expect(moved.code, moved.stderr).toBe(0);
    const claimed = await cli('deploy', spec('shop', 'new-owner', ['shop.example.test']), '--env', 'local');
    expect(claimed.code, claimed.stderr).toBe(0);
    expect((await runtime.request('shop.example.test')).body).toContain('new-owner');
  }, 60_000);
});
