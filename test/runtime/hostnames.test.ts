/**
 * The runtime's own line of defence against hostname theft: whoever holds a console token (berth in
 * another environment, or someone racing a deploy) cannot route a name another service owns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { berthTags } from '../../src/core/tags.js';
import { routesByHost } from '../../src/runtime/proxy.js';
import type { RuntimeRoute } from '../../src/runtime/types.js';
import { deployService, startTestRuntime, stopAllTestRuntimes, waitHealthy } from '../helpers/runtime.js';

afterEach(stopAllTestRuntimes);

describe('one owner per routed host name', () => {
  it('refuses (409, naming the owner) a route or a route change for a name another service holds', async () => {
    const rt = await startTestRuntime();
    const owner = await deployService(rt, {
      name: 'hello-production-g1',
      host: 'hello.production.localhost',
      tags: berthTags('production', 'hello', 1),
      env: { GREETING: 'owner' },
    });
    const thief = await deployService(rt, {
      name: 'thief-local-g1',
      host: 'thief.local.localhost',
      tags: berthTags('local', 'thief', 1),
      env: { GREETING: 'thief' },
    });
    await waitHealthy(rt, owner.service.id, 1);
    await waitHealthy(rt, thief.service.id, 1);

    await expect(
      rt.client.create('routes', {
        host: 'hello.production.localhost',
        serviceId: thief.service.id,
        tags: berthTags('local', 'thief', 1),
      }),
    ).rejects.toThrow(/hello\.production\.localhost belongs to service hello in production/);
    const [thiefRoute] = await rt.client.list('routes', { 'berth:service': 'thief' });
    await expect(
      rt.client.update('routes', thiefRoute!.id, { host: 'hello.production.localhost' }),
    ).rejects.toThrow(/belongs to service hello in production/);
    // a route made outside berth is one owner too: it cannot take berth's name either
    await expect(
      rt.client.create('routes', {
        host: 'hello.production.localhost',
        serviceId: thief.service.id,
        tags: {},
      }),
    ).rejects.toThrow(/belongs to service hello in production/);

    // the owner itself may add a route for its name (a new generation, a repair)
    await rt.client.create('routes', {
      host: 'hello.production.localhost',
      serviceId: owner.service.id,
      tags: berthTags('production', 'hello', 2),
    });
    for (const host of ['hello.production.localhost', 'HELLO.production.LOCALHOST.']) {
      const response = await rt.request(host);
      expect(response.status).toBe(200);
      expect(response.body).toContain('owner');
    }
  });

  it('serves a name from its first owner when older state holds routes of several owners', () => {
    const route = (id: string, host: string, createdAt: string, service: string): RuntimeRoute => ({
      id,
      host,
      serviceId: `svc-${service}`,
      tags: berthTags('local', service, 1),
      createdAt,
      updatedAt: createdAt,
    });
    const table = routesByHost([
      route('rt-3', 'hello.local.localhost', '2026-01-03T00:00:00.000Z', 'thief'),
      route('rt-1', 'hello.local.localhost', '2026-01-01T00:00:00.000Z', 'hello'),
      route('rt-2', 'hello.local.localhost', '2026-01-02T00:00:00.000Z', 'hello'),
    ]);
    expect(table.get('hello.local.localhost')?.id).toBe('rt-2');
  });
});
