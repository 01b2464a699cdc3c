import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';
import { berthTags } from '../src/core/tags.js';
import type { RuntimeKind } from '../src/runtime/types.js';

const HOST = 'hello.local.localhost';
const HELLO = join(EXAMPLES, 'hello');
const TAGS = berthTags('local', 'hello', 1);
const KINDS: RuntimeKind[] = ['services', 'routes', 'dns', 'healthchecks'];

/** Everything in the runtime tagged for hello in local, by kind. */
async function tagged(runtime: TestRuntime): Promise<Record<RuntimeKind, number>> {
  const counts = {} as Record<RuntimeKind, number>;
  for (const kind of KINDS) {
    counts[kind] = (
      await runtime.client.list(kind, { 'berth:service': 'hello', 'berth:env': 'local' })
    ).length;
  }
  return counts;
}

/** Leftovers from an earlier life of the service, created through the runtime's console. */
const leftovers: Record<string, (runtime: TestRuntime) => Promise<void>> = {
  compute: async ({ client }) => {
    await client.create('services', {
      name: 'hello-local-g1',
      command: ['node', 'server.js'],
      cwd: HELLO,
      env: { GREETING: 'stale' },
      replicas: 1,
      health: {
        path: '/healthz',
        intervalMs: 2000,
        timeoutMs: 1000,
        healthyThreshold: 1,
        unhealthyThreshold: 3,
      },
      tags: TAGS,
    });
  },
  route: async ({ client }) => {
    // A stale route that sends the host to some other service.
    const [existing] = await client.list('services', { owner: 'someone-else' });
    const other =
      existing ??
      (await client.create('services', {
        name: 'someone-elses-app',
        command: ['node', 'server.js'],
        cwd: HELLO,
        env: { GREETING: 'wrong service' },
        replicas: 1,
        health: {
          path: '/healthz',
          intervalMs: 2000,
          timeoutMs: 1000,
          healthyThreshold: 1,
          unhealthyThreshold: 3,
        },
        tags: { owner: 'someone-else' },
      }));
    await client.create('routes', { host: HOST, serviceId: other.id, tags: TAGS });
  },
  dns: async ({ client, info }) => {
    await client.create('dns', { name: HOST, type: 'CNAME', target: info.proxyHost, tags: TAGS });
  },
  healthcheck: async ({ client }) => {
    await client.create('healthchecks', {
      host: HOST,
      path: '/old',
      intervalMs: 5000,
      failureThreshold: 3,
      tags: TAGS,
    });
  },
};

describe('deploy converges over leftovers', () => {
  let runtime: TestRuntime;
  beforeEach(async () => {
    runtime = await startTestRuntime();
  });
  afterEach(async () => {
    await runtime.stop();
  });

  const cases = [...Object.keys(leftovers).map((kind) => [kind]), Object.keys(leftovers)];
  it.each(cases.map((kinds) => [kinds.join(' + '), kinds]))(
    'with a leftover %s, deploy succeeds and leaves exactly one of each',
    async (_label, kinds) => {
      for (const kind of kinds as string[]) {
        await leftovers[kind]!(runtime);
        await leftovers[kind]!(runtime).catch(() => undefined); // a duplicate too, where the runtime allows it
      }
      const deploy = await runCli(['deploy', HELLO, '--env', 'local'], { dataDir: runtime.dataDir });
      expect(deploy.code, deploy.stderr).toBe(0);
      expect(await tagged(runtime)).toEqual({ services: 1, routes: 1, dns: 1, healthchecks: 1 });
      const response = await runtime.request(HOST, '/');
      expect(response.status).toBe(200);
      expect(response.body).toMatch(/^hello from/);
      const [check] = await runtime.client.list('healthchecks', { 'berth:service': 'hello' });
      expect(check!.path).toBe('/healthz');
      // What berth does not own is never touched.
      expect((await runtime.client.list('services', { owner: 'someone-else' })).length).toBe(
        kinds.includes('route') ? 1 : 0,
      );
    },
  );
});

describe('delete converges from any state', () => {
  let runtime: TestRuntime;
  beforeEach(async () => {
    runtime = await startTestRuntime();
    const deploy = await runCli(['deploy', HELLO, '--env', 'local'], { dataDir: runtime.dataDir });
    expect(deploy.code, deploy.stderr).toBe(0);
  });
  afterEach(async () => {
    await runtime.stop();
  });

  it.each(KINDS)("succeeds when its %s was already removed behind berth's back", async (kind) => {
    for (const resource of await runtime.client.list(kind, { 'berth:service': 'hello' })) {
      expect(await runtime.client.remove(kind, resource.id)).toBe(true);
    }
    const result = await runCli(['delete', 'hello', '--env', 'local', '--yes'], { dataDir: runtime.dataDir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('was already gone');
    expect(await tagged(runtime)).toEqual({ services: 0, routes: 0, dns: 0, healthchecks: 0 });
    expect((await runtime.request(HOST, '/')).status).toBe(404);
  });

  it("succeeds when berth's own record is lost while the resources remain, and finds them by tag", async () => {
    rmSync(join(runtime.dataDir, 'state.db'));
    rmSync(join(runtime.dataDir, 'state.db-wal'), { force: true });
    rmSync(join(runtime.dataDir, 'state.db-shm'), { force: true });
    const result = await runCli(['delete', 'hello', '--env', 'local', '--yes'], { dataDir: runtime.dataDir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/will remove 4 resource/);
    expect(await tagged(runtime)).toEqual({ services: 0, routes: 0, dns: 0, healthchecks: 0 });
  });

  it('a second delete says the service does not exist (exit 2)', async () => {
    expect(
      (await runCli(['delete', 'hello', '--env', 'local', '--yes'], { dataDir: runtime.dataDir })).code,
    ).toBe(0);
    const again = await runCli(['delete', 'hello', '--env', 'local', '--yes'], { dataDir: runtime.dataDir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('there is no service "hello" in local');
  });
});
