import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, runCli, spawnCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';

const HOST = 'hello.local.localhost';

/** A copy of examples/hello that a test may change. */
function helloCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hello-'));
  cpSync(join(EXAMPLES, 'hello'), dir, { recursive: true });
  return dir;
}

function setGreeting(dir: string, greeting: string): void {
  const file = join(dir, 'berth.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/GREETING: .*/, `GREETING: ${greeting}`));
}

describe('deploy, redeploy and rollback on the local runtime', () => {
  let runtime: TestRuntime;
  beforeEach(async () => {
    runtime = await startTestRuntime();
  });
  afterEach(async () => {
    await runtime.stop();
  });

  it('deploys a service that answers at its hostname, shows each step, and reports it healthy', async () => {
    const deploy = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'local'], {
      dataDir: runtime.dataDir,
    });
    expect(deploy.stderr).toContain('[local]');
    for (const step of ['ensure compute', 'wait until healthy', 'switch traffic', 'ensure dns', 'record']) {
      expect(deploy.stderr).toContain(`✓ ${step}`);
    }
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stdout).toContain(`http://${HOST}:${runtime.info.proxy.port}/`);

    const replicas = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const response = await runtime.request(HOST, '/');
      expect(response.status).toBe(200);
      expect(response.body).toMatch(/^hello from replica \d/);
      replicas.add(String(response.headers['x-replica']));
    }
    expect(replicas.size).toBe(2);

    const status = await runCli(['status', 'hello', '--env', 'local', '--json'], {
      dataDir: runtime.dataDir,
    });
    expect(status.code, status.stderr).toBe(0);
    const [hello] = JSON.parse(status.stdout);
    expect(hello).toMatchObject({ name: 'hello', health: 'Healthy', sync: 'InSync', revision: 1 });
    expect(hello.resources.map((r: { kind: string }) => r.kind).sort()).toEqual([
      'compute',
      'dns',
      'healthcheck',
      'route',
    ]);
  });

  it('redeploys a changed environment variable with no failed request, then rolls back', async () => {
    const dir = helloCopy();
    const first = await runCli(['deploy', dir, '--env', 'local'], { dataDir: runtime.dataDir });
    expect(first.code, first.stderr).toBe(0);

    // A client looping on the URL during the whole rollout.
    const statuses = new Map<number, number>();
    const bodies = new Set<string>();
    let looping = true;
    const loop = (async () => {
      while (looping) {
        const response = await runtime.request(HOST, '/');
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        bodies.add(response.body.replace(/ from replica \d+\n/, ''));
      }
    })();

    setGreeting(dir, 'bonjour');
    const second = await runCli(['deploy', dir, '--env', 'local'], { dataDir: runtime.dataDir });
    await new Promise((resolve) => setTimeout(resolve, 300));
    looping = false;
    await loop;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('revision 2');
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(20);
    expect(bodies).toEqual(new Set(['hello', 'bonjour']));
    expect((await runtime.request(HOST, '/')).body).toMatch(/^bonjour/);

    const rollback = await runCli(['rollback', 'hello', '--env', 'local'], { dataDir: runtime.dataDir });
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stdout).toContain('revision 3 is live');
    expect((await runtime.request(HOST, '/')).body).toMatch(/^hello from/);

    const history = await runCli(['history', 'hello', '--env', 'local', '--json'], {
      dataDir: runtime.dataDir,
    });
    const { revisions, operations } = JSON.parse(history.stdout);
    expect(revisions[0]).toMatchObject({ number: 3, origin: { kind: 'rollback', from: 1 } });
    expect(operations.map((o: { kind: string; status: string }) => `${o.kind}:${o.status}`)).toEqual([
      'rollback:succeeded',
      'deploy:succeeded',
      'deploy:succeeded',
    ]);
    // Only the serving generation is left running.
    expect(await runtime.client.list('services', { 'berth:service': 'hello' })).toHaveLength(1);
  });

  it('a redeploy of an unchanged spec keeps the revision and the running replicas', async () => {
    const path = join(EXAMPLES, 'hello');
    expect((await runCli(['deploy', path, '--env', 'local'], { dataDir: runtime.dataDir })).code).toBe(0);
    const [before] = await runtime.client.list('services', { 'berth:service': 'hello' });
    const again = await runCli(['deploy', path, '--env', 'local'], { dataDir: runtime.dataDir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already runs this revision');
    const [after] = await runtime.client.list('services', { 'berth:service': 'hello' });
    expect(after!.id).toBe(before!.id);
    expect(again.stdout).toContain('revision 1');
  });

  it('events --follow shows the steps of a deploy as they happen', async () => {
    expect(
      (await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'local'], { dataDir: runtime.dataDir }))
        .code,
    ).toBe(0);
    const follow = spawnCli(['events', 'hello', '--env', 'local', '--follow'], { dataDir: runtime.dataDir });
    try {
      const dir = helloCopy();
      setGreeting(dir, 'hola');
      expect((await runCli(['deploy', dir, '--env', 'local'], { dataDir: runtime.dataDir })).code).toBe(0);
      const giveUp = Date.now() + 5000;
      while (follow.output().stdout.split('operation.succeeded').length < 3 && Date.now() < giveUp) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(follow.output().stdout).toMatch(/step.succeeded \[switch traffic\]/);
      expect(follow.output().stdout.split('operation.succeeded').length).toBe(3);
    } finally {
      follow.child.kill('SIGTERM');
      await follow.exited;
    }
  });

  it('deploys a service with a 40-character name, the longest allowed', async () => {
    const dir = helloCopy();
    const name = 'a-service-name-of-forty-characters-xyz12';
    expect(name).toHaveLength(40);
    const file = join(dir, 'berth.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^name: hello$/m, `name: ${name}`));
    const deploy = await runCli(['deploy', dir, '--env', 'production'], {
      dataDir: runtime.dataDir,
    });
    expect(deploy.code, deploy.stderr).toBe(0);
    const response = await runtime.request(`${name}.production.localhost`, '/');
    expect(response.status).toBe(200);
  });
});
