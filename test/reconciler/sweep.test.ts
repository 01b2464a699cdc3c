/**
 * A detection pass reads berth's state while it observes (sweep): an operation that begins after
 * that read, while the environment is still being observed, must not be judged on that picture of
 * its middle. Real SQLite store; the observation is given (the operation begins while it is taken).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Provider } from '../../src/providers/provider.js';
import { memoryTable, sweep, type ReconcileDeps } from '../../src/reconciler/reconcile.js';
import type { EnvironmentConfig, ServiceSpec } from '../../src/spec/types.js';
import { SqliteStateStore } from '../../src/state/sqlite/store.js';

const ENV = 'staging';
let dir: string;
let store: SqliteStateStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sweep-'));
  store = SqliteStateStore.open(path.join(dir, 'state.db'));
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function spec(name: string): ServiceSpec {
  return {
    name,
    image: 'registry.example.test/app:1',
    port: 8080,
    replicas: 1,
    health: {
      path: '/healthz',
      intervalMs: 2000,
      timeoutMs: 1000,
      healthyThreshold: 1,
      unhealthyThreshold: 3,
    },
    domains: [],
    env: {},
    protection: { deletion: false },
    drift: 'heal',
  };
}

async function deployed(name: string): Promise<void> {
  await store.addRevision({
    env: ENV,
    service: name,
    spec: spec(name),
    specHash: 'h',
    origin: { kind: 'deploy' },
  });
  const now = new Date().toISOString();
  await store.putService(
    {
      env: ENV,
      name,
      currentRevision: 1,
      lastHealthyRevision: 1,
      generation: 1,
      status: 'active',
      createdAt: now,
      updatedAt: now,
    },
    null,
  );
  const op = await store.createOperation({
    id: `op-${name}-1`,
    env: ENV,
    service: name,
    kind: 'deploy',
    status: 'pending',
    revision: 1,
    params: {},
    steps: [],
  });
  const claimed = (await store.claimOperation(op.id, 'runner', 60_000, Date.now()))!;
  await store.saveOperation({ ...claimed, status: 'succeeded', finishedAt: now }, 60_000, Date.now());
}

function deps(): ReconcileDeps {
  return {
    store,
    // Never asked here: the one deployed service is busy, the other not deployed.
    provider: {} as Provider,
    env: { name: ENV, provider: 'local', protected: false, drift: 'heal' } as EnvironmentConfig,
    engine: null as never,
    observe: async () => {
      throw new Error('the pass observes through sweep()');
    },
    ...memoryTable(),
    emit: async (event) => void (await store.appendEvent(event)),
    repairBackoff: { baseMs: 2_000, maxMs: 300_000 },
    now: () => Date.now(),
  };
}

describe('sweep', () => {
  it('looks again at a service whose operation began after the state was read, while it was observed', async () => {
    await deployed('web');
    const now = new Date().toISOString();
    await store.putService(
      {
        env: ENV,
        name: 'api',
        currentRevision: null,
        lastHealthyRevision: null,
        generation: 0,
        status: 'active',
        createdAt: now,
        updatedAt: now,
      },
      null,
    );
    await new Promise((resolve) => setTimeout(resolve, 5));

    const swept = await sweep(deps(), async () => {
      const at = Date.now();
      // A deploy of web begins while the environment is being observed.
      await store.createOperation({
        id: 'op-web-2',
        env: ENV,
        service: 'web',
        kind: 'deploy',
        status: 'pending',
        revision: 1,
        params: {},
        steps: [],
      });
      return { data: new Map(), at };
    });

    const results = new Map(swept!.detected.map((d) => [d.key, d]));
    expect(results.get('web')).toMatchObject({
      result: { outcome: 'busy', detail: 'deploy op-web-2 started', requeueAfterMs: 0 },
      workAfterMs: 0,
    });
    expect(results.get('api')?.result?.outcome).toBe('not-deployed');
    // Nothing was judged on the picture of web's deploy: no drift recorded.
    expect(await store.listEvents({ env: ENV })).toEqual([]);
  });

  it('stops before recording anything when it may no longer act', async () => {
    await deployed('web');
    expect(
      await sweep(
        deps(),
        async () => ({ data: new Map(), at: Date.now() }),
        () => false,
      ),
    ).toBeNull();
    expect(await store.listEvents({ env: ENV })).toEqual([]);
  });
});
