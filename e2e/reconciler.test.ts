/**
 * The reconciler's policies and guards against a real local runtime: policy report changes
 * nothing and shows what differs; a repair that keeps failing backs off and says so; only the
 * holder of an environment's lease acts; a stale observation shows as Unknown; orphans are only
 * reported until someone deletes or adopts them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli } from '../test/helpers/cli.js';
import { startTestRuntime, waitFor, type TestRuntime } from '../test/helpers/runtime.js';
import { helloSpec, localEnv, openBerth, type Berth } from '../test/helpers/berth.js';
import { startReconciler, type Reconciler } from '../src/reconciler/index.js';
import { observeEnvironment } from '../src/engine/drift.js';
import { environmentStatus, type ServiceStatus } from '../src/engine/status.js';
import { SqliteStateStore } from '../src/state/sqlite/store.js';
import { berthTags } from '../src/core/tags.js';
import type { EventRecord } from '../src/state/store.js';

const RESYNC_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('reconciler', () => {
  let runtime: TestRuntime;
  let berth: Berth;
  let reconciler: Reconciler;
  let intruderId: string;

  const events = async (service: string, type?: string): Promise<EventRecord[]> =>
    (await berth.store.listEvents({ env: 'local', service })).filter((e) => !type || e.type === type);
  const cli = (...args: string[]) => runCli(args, { dataDir: runtime.dataDir });

  beforeAll(async () => {
    runtime = await startTestRuntime();
    berth = openBerth(runtime);
    intruderId = (
      await runtime.client.create('services', {
        name: 'intruder',
        command: ['node', 'server.js'],
        cwd: join(runtime.dataDir),
        env: {},
        replicas: 0,
        health: { path: '/', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 2 },
        tags: {},
      })
    ).id;
    reconciler = startReconciler({
      store: berth.store,
      provider: berth.provider,
      env: berth.env,
      resyncMs: RESYNC_MS,
      repairBackoffMs: 300,
      maxRepairBackoffMs: 2_000,
      leaseTtlMs: 3_000,
    });
  });

  afterAll(async () => {
    await reconciler?.stop();
    await berth?.close();
    await runtime?.stop();
  });

  it('with policy report changes nothing, and status and drift show Drifted with what differs', async () => {
    expect((await berth.engine().deploy(helloSpec('rep', { drift: 'report' }))).operation.status).toBe(
      'succeeded',
    );
    const [dns] = await runtime.client.list('dns', { 'berth:service': 'rep' });
    const [route] = await runtime.client.list('routes', { 'berth:service': 'rep' });
    await runtime.client.remove('dns', dns!.id);
    await runtime.client.update('routes', route!.id, { serviceId: intruderId });

    // Each change is seen (as it lands, possibly in two events), then never again.
    const seen = await waitFor(
      async () => {
        const list = await events('rep', 'drift.seen');
        const items = list.flatMap((e) => (e.data?.items ?? []) as { kind: string }[]).map((i) => i.kind);
        return items.includes('dns') && items.includes('route') ? list : null;
      },
      { what: 'drift.seen of dns and route' },
    );
    expect(seen.every((e) => /policy report: not repairing/.test(e.message))).toBe(true);
    await sleep(4 * RESYNC_MS);

    // Nothing changed: the record is still gone, the route still points elsewhere, no repair ran.
    expect(await runtime.client.list('dns', { 'berth:service': 'rep' })).toEqual([]);
    expect((await runtime.client.get('routes', route!.id))?.serviceId).toBe(intruderId);
    expect((await berth.store.listOperations('local', 'rep')).map((op) => op.kind)).toEqual(['deploy']);
    // Not seen again at every resync: each drift item is recorded once (the health check then
    // failing, with traffic sent elsewhere, is new drift of its own).
    const seenItems = (await events('rep', 'drift.seen'))
      .flatMap((e) => (e.data?.items ?? []) as { kind: string; state: string }[])
      .map((item) => `${item.kind} ${item.state}`);
    expect(new Set(seenItems).size).toBe(seenItems.length);

    const status = await cli('status', 'rep', '--env', 'local', '--json');
    expect(status.code, status.stderr).toBe(0);
    const [rep] = JSON.parse(status.stdout) as ServiceStatus[];
    expect(rep!.sync).toBe('Drifted');
    expect(rep!.resources.find((r) => r.kind === 'dns')).toMatchObject({ state: 'missing' });
    expect(rep!.resources.find((r) => r.kind === 'route')).toMatchObject({
      state: 'modified',
      drift: [{ field: 'serviceId', observed: intruderId }],
    });
    const text = await cli('status', 'rep', '--env', 'local');
    expect(text.stdout).toMatch(/sync:\s+Drifted/);
    expect(text.stdout).toContain(`serviceId: "${intruderId}"`);

    const drift = await cli('drift', '--env', 'local', '--json');
    expect(drift.code, drift.stderr).toBe(0);
    const report = JSON.parse(drift.stdout) as {
      services: { name: string; sync: string; policy: string }[];
      drift: {
        service: string;
        kind: string;
        state: string;
        fields: { field: string }[];
        firstSeenAt: string | null;
      }[];
    };
    expect(report.services.find((s) => s.name === 'rep')).toMatchObject({
      sync: 'Drifted',
      policy: 'report',
    });
    const rows = report.drift.filter((row) => row.service === 'rep');
    expect(rows.map((row) => `${row.kind} ${row.state}`)).toEqual(
      expect.arrayContaining(['dns missing', 'route modified']),
    );
    expect(rows.find((row) => row.kind === 'route')!.fields.map((f) => f.field)).toEqual(['serviceId']);
    expect(rows.every((row) => row.firstSeenAt !== null)).toBe(true);
  });

  it('reports orphans without removing them; --adopt takes one into a service, --delete removes the rest', async () => {
    // rep (policy report) still misses its DNS record; a leftover tagged for a service berth
    // does not know has exactly that name. Untagged resources are never touched.
    const ghost = await runtime.client.create('dns', {
      name: 'rep.local.localhost',
      type: 'CNAME',
      target: runtime.info.proxyHost,
      tags: berthTags('local', 'ghost', 3),
    });
    const other = await runtime.client.create('dns', {
      name: 'other.local.localhost',
      type: 'CNAME',
      target: runtime.info.proxyHost,
      tags: berthTags('local', 'ghost', 3),
    });
    const untagged = await runtime.client.create('dns', {
      name: 'someone.local.localhost',
      type: 'CNAME',
      target: runtime.info.proxyHost,
      tags: { owner: 'someone-else' },
    });
    const seen = await waitFor(async () => (await events('ghost', 'drift.seen'))[0], {
      what: 'orphan event',
    });
    expect(seen.message).toMatch(/no record of/);
    await sleep(3 * RESYNC_MS);
    expect(await runtime.client.get('dns', ghost.id)).not.toBeNull();

    const listed = await cli('orphans', '--env', 'local', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const ids = (JSON.parse(listed.stdout) as { orphans: { providerId: string }[] }).orphans.map(
      (o) => o.providerId,
    );
    expect(ids.sort()).toEqual([ghost.id, other.id].sort());

    const adopt = await cli('orphans', '--env', 'local', '--adopt', 'rep', '--id', ghost.id);
    expect(adopt.code, adopt.stderr).toBe(0);
    expect((await runtime.client.get('dns', ghost.id))?.tags['berth:service']).toBe('rep');
    const rep = (await berth.status('rep'))!;
    expect(rep.resources.find((r) => r.kind === 'dns')).toMatchObject({ state: 'ok', providerId: ghost.id });

    const removed = await cli('orphans', '--env', 'local', '--delete');
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(other.id);
    expect(await runtime.client.get('dns', other.id)).toBeNull();
    expect(await runtime.client.get('dns', untagged.id)).not.toBeNull();
  });

  it('backs off a repair that keeps failing, shows that it fails, and records a bounded number of events', async () => {
    expect((await berth.engine().deploy(helloSpec('flaky'))).operation.status).toBe('succeeded');
    // Names the repair would give the new compute, taken by someone else: every attempt fails.
    const blockers = [];
    for (let generation = 2; generation <= 7; generation++) {
      blockers.push(
        await runtime.client.create('services', {
          name: `flaky-local-g${generation}`,
          command: ['node', 'server.js'],
          cwd: runtime.dataDir,
          env: {},
          replicas: 0,
          health: { path: '/', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 2 },
          tags: {},
        }),
      );
    }
    const [compute] = await runtime.client.list('services', { 'berth:service': 'flaky' });
    const from = Date.now();
    await runtime.client.remove('services', compute!.id);

    await sleep(6_000);
    const repairs = (await berth.store.listOperations('local', 'flaky')).filter((op) => op.kind === 'repair');
    // Backoff 0.3, 0.6, 1.2, 2, 2 s: about five attempts in six seconds, not one per resync (20).
    expect(repairs.length).toBeGreaterThanOrEqual(3);
    expect(repairs.length).toBeLessThanOrEqual(7);
    expect(repairs.every((op) => op.status === 'failed')).toBe(true);
    const recorded = (await events('flaky')).filter((e) => Date.parse(e.time) >= from);
    // Each drift is recorded once (the health check failing too is new drift), not per attempt.
    const seenItems = recorded
      .filter((e) => e.type === 'drift.seen')
      .flatMap((e) => (e.data?.items ?? []) as { kind: string; state: string }[])
      .map((item) => `${item.kind} ${item.state}`);
    expect(seenItems).toContain('compute missing');
    expect(new Set(seenItems).size).toBe(seenItems.length);
    expect(recorded.length).toBeLessThanOrEqual(12 * repairs.length);

    const state = reconciler.status().services.find((s) => s.service === 'flaky')!;
    expect(state.repairFailing).toMatchObject({ attempts: repairs.length });
    expect(state.repairFailing!.lastError).toMatch(/already exists/);
    // (Between two attempts: while one runs, status shows the repair itself.)
    const flaky = await waitFor(
      async () => {
        const [found] = JSON.parse(
          (await cli('status', 'flaky', '--env', 'local', '--json')).stdout,
        ) as ServiceStatus[];
        return found?.repairFailing ? found : null;
      },
      { what: 'status showing the failing repair' },
    );
    expect(flaky.health).toBe('Missing');
    expect(flaky.repairFailing!.attempts).toBeGreaterThanOrEqual(3);
    await waitFor(
      async () =>
        /repair:\s+failing: \d+ attempt/.test((await cli('status', 'flaky', '--env', 'local')).stdout),
      {
        what: 'the failing repair in the status text',
      },
    );

    // The obstacle goes away: the next attempt repairs it, with no human step on berth's side.
    for (const blocker of blockers) await runtime.client.remove('services', blocker.id);
    await waitFor(async () => (await events('flaky', 'drift.repaired'))[0], {
      timeoutMs: 15_000,
      what: 'repaired',
    });
    await waitFor(async () => (await runtime.request('flaky.local.localhost', '/')).status === 200, {
      what: 'flaky answering',
    });
    expect((await berth.status('flaky'))?.repairFailing).toBeNull();
  }, 40_000);

  it('shows an observation older than three resync periods as Unknown with its age', async () => {
    const at = Date.now() - 4 * RESYNC_MS;
    const observation = { data: await observeEnvironment(berth.provider, 'local'), at };
    const [stale] = await environmentStatus(berth.store, berth.provider, berth.env, 'flaky', {
      observation,
      staleAfterMs: 3 * RESYNC_MS,
    });
    expect(stale).toMatchObject({ health: 'Unknown', sync: 'Unknown' });
    expect(stale!.observedAgeMs).toBeGreaterThanOrEqual(4 * RESYNC_MS);
    expect(stale!.healthDetail).toMatch(/last observed \d+s ago/);
    const [fresh] = await reconciler.serviceStatus('flaky');
    expect(fresh!.health).not.toBe('Unknown');
    expect(fresh!.observedAgeMs).toBeLessThan(3 * RESYNC_MS);
  });

  it('records drift of every service as soon as it is observed, even while every worker repairs', async () => {
    const env = localEnv('heal', 'detect');
    const names = ['det-a', 'det-b', 'det-c', 'det-d'];
    const other = openBerth(runtime, env);
    for (const name of names) {
      expect((await other.engine().deploy(helloSpec(name))).operation.status).toBe('succeeded');
    }
    // One worker: the repairs run one after another, but detection does not wait for them.
    const single = startReconciler({
      store: other.store,
      provider: other.provider,
      env,
      resyncMs: RESYNC_MS,
      workers: 1,
      leaseTtlMs: 3_000,
    });
    try {
      await waitFor(() => single.status().leader, { what: 'the reconciler to lead' });
      await sleep(2 * RESYNC_MS); // in sync before the faults
      const from = Date.now();
      for (const name of names) {
        const [compute] = await runtime.client.list('services', {
          'berth:service': name,
          'berth:env': 'detect',
        });
        await runtime.client.remove('services', compute!.id);
      }
      const since = new Date(from).toISOString();
      const all = await waitFor(
        async () => {
          const list = await other.store.listEvents({ env: 'detect', since });
          const repaired = new Set(list.filter((e) => e.type === 'drift.repaired').map((e) => e.service));
          return names.every((name) => repaired.has(name)) ? list : null;
        },
        { timeoutMs: 30_000, what: 'every service repaired' },
      );
      const firstRepaired = Math.min(
        ...all.filter((e) => e.type === 'drift.repaired').map((e) => Date.parse(e.time)),
      );
      for (const name of names) {
        const seen = all.filter(
          (e) =>
            e.service === name &&
            e.type === 'drift.seen' &&
            ((e.data?.items ?? []) as { kind: string; state: string }[]).some(
              (item) => item.kind === 'compute' && item.state === 'missing',
            ),
        );
        // Once each, and before the first repair (of four, one at a time) was done.
        expect(seen, name).toHaveLength(1);
        expect(Date.parse(seen[0]!.time), name).toBeLessThan(firstRepaired);
      }
    } finally {
      await single.stop();
      await other.close();
    }
  }, 40_000);

  it('lets only the lease holder act; the other takes over when it stops', async () => {
    const env = localEnv('heal', 'staging');
    const stores = [0, 1].map(() => SqliteStateStore.open(join(runtime.dataDir, 'state.db')));
    const start = (index: number) =>
      startReconciler({
        store: stores[index]!,
        provider: berth.provider,
        env,
        resyncMs: RESYNC_MS,
        owner: `recon-${index}`,
        leaseTtlMs: 1_500,
      });
    const engine = openBerth(runtime, env);
    const reconcilers = [start(0), start(1)];
    try {
      expect((await engine.engine().deploy(helloSpec('duo'))).operation.status).toBe('succeeded');
      const leaders = await waitFor(() => {
        const leading = reconcilers.filter((r) => r.status().leader);
        return leading.length === 1 ? leading : null;
      });
      const leader = leaders[0]!;
      const standby = reconcilers.find((r) => r !== leader)!;
      expect(standby.status().leader).toBe(false);

      const breakDns = async () => {
        const [dns] = await runtime.client.list('dns', { 'berth:service': 'duo', 'berth:env': 'staging' });
        await runtime.client.remove('dns', dns!.id);
      };
      const repaired = (count: number) =>
        waitFor(
          async () => {
            const list = (await engine.store.listEvents({ env: 'staging', service: 'duo' })).filter(
              (e) => e.type === 'drift.repaired',
            );
            return list.length >= count ? list : null;
          },
          { timeoutMs: 10_000, what: `${count} repairs` },
        );
      await breakDns();
      await repaired(1);
      await sleep(3 * RESYNC_MS);
      const repairs = (await engine.store.listOperations('staging', 'duo')).filter(
        (op) => op.kind === 'repair',
      );
      expect(repairs).toHaveLength(1);
      const seenBy = (await engine.store.listEvents({ env: 'staging', service: 'duo' }))
        .filter((e) => e.type === 'drift.seen')
        .map((e) => e.data?.reconciler);
      expect(seenBy.length).toBeGreaterThan(0);
      expect(new Set(seenBy)).toEqual(new Set([leader.status().owner]));

      await leader.stop();
      await waitFor(() => standby.status().leader, { timeoutMs: 5_000, what: 'the standby to take over' });
      await breakDns();
      await repaired(2);
      const seenAfter = (await engine.store.listEvents({ env: 'staging', service: 'duo' }))
        .filter((e) => e.type === 'drift.seen')
        .map((e) => e.data?.reconciler);
      expect(seenAfter.length).toBeGreaterThan(seenBy.length);
      expect(new Set(seenAfter.slice(seenBy.length))).toEqual(new Set([standby.status().owner]));
      const repairsAfter = (await engine.store.listOperations('staging', 'duo')).filter(
        (op) => op.kind === 'repair',
      );
      expect(repairsAfter).toHaveLength(2);
    } finally {
      await Promise.all(reconcilers.map((r) => r.stop()));
      for (const store of stores) await store.close();
      await engine.close();
    }
  }, 40_000);
});
