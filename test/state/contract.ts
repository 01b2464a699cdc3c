/**
 * The StateStore contract (see the doc comment in src/state/store.ts), as tests that every
 * implementation must pass. An implementation's test file calls `describeStateStoreContract`.
 *
 * `open` is called before each test and `cleanup` (if given) after it, once the store is closed.
 * `open` may return a store that still holds data from earlier tests (a shared DynamoDB table, say):
 * every test works in its own freshly named environment and only queries within it.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import type { ServiceSpec } from '../../src/spec/types.js';
import {
  ActiveOperationError,
  FencedError,
  type OperationRecord,
  type ServiceRecord,
  type StateStore,
  type StepRecord,
} from '../../src/state/store.js';

type NewOperation = Parameters<StateStore['createOperation']>[0];

export function describeStateStoreContract(
  name: string,
  open: () => Promise<StateStore>,
  cleanup?: () => Promise<void>,
): void {
  describe(`StateStore contract: ${name}`, () => {
    let store: StateStore;
    /** This test's environment; a second one (`other`) checks that queries stay inside it. */
    let env: string;
    let other: string;

    beforeEach(async () => {
      store = await open();
      env = uniqueName('env');
      other = uniqueName('env');
    });

    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    describe('services', () => {
      it('returns null for a service that does not exist', async () => {
        expect(await store.getService(env, 'web')).toBeNull();
      });

      it('creates with expectedVersion null at version 1, and refuses a second create', async () => {
        const created = await store.putService(service(env, 'web'), null);
        expect(created).toEqual({ ...service(env, 'web'), version: 1 });
        expect(await store.getService(env, 'web')).toEqual(created);

        const second = store.putService(service(env, 'web', { generation: 9 }), null);
        await expect(second).rejects.toBeInstanceOf(ConflictError);
        await expect(second).rejects.toThrow(/web/);
        await expect(second).rejects.toThrow(new RegExp(env));
        expect(await store.getService(env, 'web')).toEqual(created);
      });

      it('updates only from the current version; a stale version is a conflict naming both', async () => {
        await store.putService(service(env, 'web'), null);
        const updated = await store.putService(service(env, 'web', { currentRevision: 1 }), 1);
        expect(updated.version).toBe(2);
        expect(updated.currentRevision).toBe(1);

        const stale = store.putService(service(env, 'web', { currentRevision: 7 }), 1);
        await expect(stale).rejects.toBeInstanceOf(ConflictError);
        await expect(stale).rejects.toThrow(/expected version 1.*version 2/);
        expect(await store.getService(env, 'web')).toEqual(updated);

        await expect(store.putService(service(env, 'api'), 3)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.getService(env, 'api')).toBeNull();
      });

      it('lists the active services of one environment, sorted by name', async () => {
        await store.putService(service(env, 'web'), null);
        await store.putService(service(env, 'api'), null);
        await store.putService(service(env, 'old', { status: 'deleted' }), null);
        await store.putService(service(other, 'elsewhere'), null);
        expect((await store.listServices(env)).map((s) => s.name)).toEqual(['api', 'web']);
      });

      it('deletes only at the current version; a missing service is NotFoundError', async () => {
        await store.putService(service(env, 'web'), null);
        await store.putService(service(env, 'web'), 1);
        await expect(store.deleteService(env, 'web', 1)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.getService(env, 'web')).not.toBeNull();

        await store.deleteService(env, 'web', 2);
        expect(await store.getService(env, 'web')).toBeNull();
        await expect(store.deleteService(env, 'web', 2)).rejects.toBeInstanceOf(NotFoundError);

        // Gone means gone: it can be created again from scratch.
        expect((await store.putService(service(env, 'web'), null)).version).toBe(1);
      });

      it('deleteService clears its inventory and keeps revisions, operations and events', async () => {
        await store.putService(service(env, 'web'), null);
        await store.putService(service(env, 'api'), null);
        await store.putResource(resource(env, 'web', 'compute', 'web-1'));
        await store.putResource(resource(env, 'web', 'dns', 'web.example'));
        await store.putResource(resource(env, 'api', 'compute', 'api-1'));
        await store.addRevision(revision(env, 'web'));
        const op = await store.createOperation(operation(env, 'web', { status: 'succeeded' }));
        await store.appendEvent(event(env, 'web', 'deployed'));

        await store.deleteService(env, 'web', 1);

        expect(await store.listResources(env, 'web')).toEqual([]);
        expect((await store.listResources(env)).map((r) => r.providerId)).toEqual(['api-1']);
        expect(await store.listRevisions(env, 'web')).toHaveLength(1);
        expect(await store.getOperation(op.id)).not.toBeNull();
        expect(await store.listEvents({ env, service: 'web' })).toHaveLength(1);
      });
    });

    describe('revisions', () => {
      it('numbers revisions 1, 2, 3 per service and environment', async () => {
        const first = await store.addRevision(revision(env, 'web'));
        expect(first.number).toBe(1);
        expect(first.createdAt).toMatch(ISO);
        expect((await store.addRevision(revision(env, 'web'))).number).toBe(2);
        expect((await store.addRevision(revision(env, 'api'))).number).toBe(1);
        expect((await store.addRevision(revision(other, 'web'))).number).toBe(1);
        expect((await store.addRevision(revision(env, 'web'))).number).toBe(3);
      });

      it('keeps the spec and origin, and lists newest first', async () => {
        const first = await store.addRevision(revision(env, 'web'));
        const second = await store.addRevision({
          ...revision(env, 'web'),
          spec: spec('web', { replicas: 3 }),
          specHash: 'h2',
          origin: { kind: 'rollback', from: 1 },
        });
        expect(await store.getRevision(env, 'web', 1)).toEqual(first);
        expect(await store.getRevision(env, 'web', 2)).toEqual(second);
        expect(second.spec.replicas).toBe(3);
        expect(await store.getRevision(env, 'web', 3)).toBeNull();
        expect((await store.listRevisions(env, 'web')).map((r) => r.number)).toEqual([2, 1]);
        expect(await store.listRevisions(env, 'nothing')).toEqual([]);
      });

      it('gives concurrent adds distinct consecutive numbers', async () => {
        const added = await Promise.all(
          Array.from({ length: 5 }, () => store.addRevision(revision(env, 'web'))),
        );
        expect(added.map((r) => r.number).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
      });
    });

    describe('operations', () => {
      it('creates a pending operation with no lease, and reads it back', async () => {
        const input = operation(env, 'web', {
          params: { noRollback: true },
          steps: [step('create-compute', { checkpoint: { replicas: [1, 2] } }), step('create-route')],
        });
        const created = await store.createOperation(input);
        expect(created).toMatchObject({
          ...input,
          leaseOwner: null,
          leaseExpiresAt: null,
          fencingToken: 0,
          cancelRequested: false,
          error: null,
          startedAt: null,
          finishedAt: null,
        });
        expect(created.createdAt).toMatch(ISO);
        expect(await store.getOperation(created.id)).toEqual(created);
        expect(await store.getOperation('op-missing')).toBeNull();
      });

      it('allows one active operation per service and names it when refusing another', async () => {
        const first = await store.createOperation(operation(env, 'web'));
        const second = store.createOperation(operation(env, 'web', { kind: 'delete' }));
        await expect(second).rejects.toBeInstanceOf(ActiveOperationError);
        await expect(second).rejects.toThrow(first.id);
        const error = (await second.catch((e: unknown) => e)) as ActiveOperationError;
        expect(error.active.id).toBe(first.id);

        // Other services and other environments are independent.
        await store.createOperation(operation(env, 'api'));
        await store.createOperation(operation(other, 'web'));
        expect((await store.getActiveOperation(env, 'web'))?.id).toBe(first.id);
      });

      it('counts a running operation as active, and allows a new one once it has finished', async () => {
        const first = await store.createOperation(operation(env, 'web'));
        const claimed = await store.claimOperation(first.id, 'runner-a', 10_000, T0);
        expect(claimed?.status).toBe('running');
        await expect(store.createOperation(operation(env, 'web'))).rejects.toBeInstanceOf(
          ActiveOperationError,
        );

        await store.saveOperation({ ...claimed!, status: 'failed', error: 'boom' }, 10_000, T0 + 1);
        expect(await store.getActiveOperation(env, 'web')).toBeNull();
        const next = await store.createOperation(operation(env, 'web'));
        expect((await store.getActiveOperation(env, 'web'))?.id).toBe(next.id);
      });

      it('refuses a reused operation id', async () => {
        const first = await store.createOperation(operation(env, 'web', { status: 'succeeded' }));
        await expect(store.createOperation(operation(env, 'api', { id: first.id }))).rejects.toBeInstanceOf(
          ConflictError,
        );
      });

      it('lets exactly one of several concurrent creates win', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 5 }, () => store.createOperation(operation(env, 'web'))),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(4);
        for (const r of lost) expect(r.reason).toBeInstanceOf(ActiveOperationError);
      });

      it('lists operations newest first, by service, with a limit', async () => {
        const ids: string[] = [];
        for (const svc of ['web', 'api', 'web', 'web']) {
          ids.push((await store.createOperation(operation(env, svc, { status: 'succeeded' }))).id);
          await nextMillisecond();
        }
        await store.createOperation(operation(other, 'web', { status: 'succeeded' }));
        expect((await store.listOperations(env)).map((o) => o.id)).toEqual([...ids].reverse());
        expect((await store.listOperations(env, 'web')).map((o) => o.id)).toEqual([ids[3], ids[2], ids[0]]);
        expect((await store.listOperations(env, 'web', 2)).map((o) => o.id)).toEqual([ids[3], ids[2]]);
        expect(await store.listOperations(env, 'nothing')).toEqual([]);
      });
    });

    describe('leases and fencing', () => {
      it('claims a pending operation: running, leased, fenced, started', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const claimed = await store.claimOperation(op.id, 'runner-a', 5_000, T0);
        expect(claimed).toEqual({
          ...op,
          status: 'running',
          leaseOwner: 'runner-a',
          leaseExpiresAt: T0 + 5_000,
          fencingToken: 1,
          startedAt: new Date(T0).toISOString(),
        });
        expect(await store.getOperation(op.id)).toEqual(claimed);
      });

      it('refuses a held lease until it expires, then lets another runner take over', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const a = (await store.claimOperation(op.id, 'runner-a', 1_000, T0))!;
        expect(await store.claimOperation(op.id, 'runner-b', 1_000, T0 + 999)).toBeNull();

        // Expired once leaseExpiresAt <= now.
        const b = (await store.claimOperation(op.id, 'runner-b', 1_000, T0 + 1_000))!;
        expect(b).toMatchObject({ leaseOwner: 'runner-b', leaseExpiresAt: T0 + 2_000, fencingToken: 2 });
        expect(b.startedAt).toBe(a.startedAt);
        expect(b.status).toBe('running');

        // The stale runner is fenced off and its write is lost; the new one writes on.
        const staleSave = store.saveOperation({ ...a, error: 'stale' }, 1_000, T0 + 1_001);
        await expect(staleSave).rejects.toBeInstanceOf(FencedError);
        expect((await store.getOperation(op.id))?.error).toBeNull();
        await store.saveOperation({ ...b, steps: [step('one', { status: 'succeeded' })] }, 1_000, T0 + 1_001);
        expect((await store.getOperation(op.id))?.steps[0]?.status).toBe('succeeded');
      });

      it('lets an owner re-claim its own lease, fencing its earlier token', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const first = (await store.claimOperation(op.id, 'runner-a', 10_000, T0))!;
        const again = (await store.claimOperation(op.id, 'runner-a', 10_000, T0 + 10))!;
        expect(again.fencingToken).toBe(first.fencingToken + 1);
        expect(again.leaseExpiresAt).toBe(T0 + 10_010);
        await expect(store.saveOperation(first, 10_000, T0 + 20)).rejects.toBeInstanceOf(FencedError);
        await store.saveOperation(again, 10_000, T0 + 20);
      });

      it('saves status, steps, revision, params, error and times, and extends the lease', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const claimed = (await store.claimOperation(op.id, 'runner-a', 1_000, T0))!;
        const saved: OperationRecord = {
          ...claimed,
          revision: 4,
          params: { noRollback: true },
          steps: [step('create-compute', { status: 'running', attempts: 2, checkpoint: { at: 3 } })],
          error: 'retrying',
        };
        await store.saveOperation(saved, 1_000, T0 + 800);
        expect(await store.getOperation(op.id)).toEqual({ ...saved, leaseExpiresAt: T0 + 1_800 });

        // The extended lease still holds where the first one would have expired.
        expect(await store.claimOperation(op.id, 'runner-b', 1_000, T0 + 1_500)).toBeNull();
        expect(await store.claimOperation(op.id, 'runner-b', 1_000, T0 + 1_800)).not.toBeNull();
      });

      it('releases the lease when the operation finishes; a finished or unknown one cannot be claimed', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const claimed = (await store.claimOperation(op.id, 'runner-a', 1_000, T0))!;
        const finishedAt = new Date(T0 + 500).toISOString();
        await store.saveOperation({ ...claimed, status: 'succeeded', finishedAt }, 1_000, T0 + 500);
        expect(await store.getOperation(op.id)).toMatchObject({
          status: 'succeeded',
          finishedAt,
          leaseOwner: null,
          leaseExpiresAt: null,
          fencingToken: 1,
        });
        expect(await store.claimOperation(op.id, 'runner-b', 1_000, T0 + 10_000)).toBeNull();
        expect(await store.claimOperation('op-missing', 'runner-b', 1_000, T0)).toBeNull();
      });

      it('refuses to save an unknown operation', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const claimed = (await store.claimOperation(op.id, 'runner-a', 1_000, T0))!;
        await expect(store.saveOperation({ ...claimed, id: 'op-missing' }, 1_000, T0)).rejects.toBeInstanceOf(
          NotFoundError,
        );
      });

      it('lets exactly one of several concurrent claims win', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map((owner) => store.claimOperation(op.id, `runner-${owner}`, 10_000, T0)),
        );
        const winners = results.filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        expect((await store.getOperation(op.id))?.leaseOwner).toBe(winners[0]!.leaseOwner);
        expect((await store.getOperation(op.id))?.fencingToken).toBe(1);
      });
    });

    describe('cancel', () => {
      it('sets cancelRequested on an active operation and keeps it through the runner’s saves', async () => {
        const op = await store.createOperation(operation(env, 'web'));
        const claimed = (await store.claimOperation(op.id, 'runner-a', 1_000, T0))!;
        const cancelled = await store.requestCancel(op.id);
        expect(cancelled).toEqual({ ...claimed, cancelRequested: true });
        expect((await store.getOperation(op.id))?.cancelRequested).toBe(true);

        // The runner saves from its copy, read before the cancel: the flag must survive.
        await store.saveOperation(claimed, 1_000, T0 + 1);
        expect((await store.getOperation(op.id))?.cancelRequested).toBe(true);
      });

      it('returns null for an unknown operation and leaves a finished one alone', async () => {
        expect(await store.requestCancel('op-missing')).toBeNull();
        const done = await store.createOperation(operation(env, 'web', { status: 'succeeded' }));
        expect(await store.requestCancel(done.id)).toEqual(done);
      });
    });

    describe('environment leases', () => {
      it('is free until first taken; the first acquisition starts term 1', async () => {
        const name = `reconciler/${env}`;
        expect(await store.getLease(name)).toBeNull();
        const lease = await store.acquireLease(name, 'a', 1_000, T0);
        expect(lease).toEqual({ name, owner: 'a', expiresAt: T0 + 1_000, token: 1 });
        expect(await store.getLease(name)).toEqual(lease);
      });

      it('refuses another owner until the lease expires; a renewal keeps the token', async () => {
        const name = `reconciler/${env}`;
        await store.acquireLease(name, 'a', 1_000, T0);
        expect(await store.acquireLease(name, 'b', 1_000, T0 + 999)).toBeNull();
        const renewed = await store.acquireLease(name, 'a', 1_000, T0 + 500);
        expect(renewed).toEqual({ name, owner: 'a', expiresAt: T0 + 1_500, token: 1 });
        expect(await store.acquireLease(name, 'b', 1_000, T0 + 1_499)).toBeNull();
        // Expired at exactly expiresAt: another owner takes a new term.
        const taken = await store.acquireLease(name, 'b', 1_000, T0 + 1_500);
        expect(taken).toEqual({ name, owner: 'b', expiresAt: T0 + 2_500, token: 2 });
        expect(await store.acquireLease(name, 'a', 1_000, T0 + 1_600)).toBeNull();
      });

      it('starts a new term when the holder re-acquires after its own lease expired', async () => {
        const name = `reconciler/${env}`;
        await store.acquireLease(name, 'a', 1_000, T0);
        expect((await store.acquireLease(name, 'a', 1_000, T0 + 5_000))?.token).toBe(2);
      });

      it('releases only for its holder; a released lease is free at once and its token survives', async () => {
        const name = `reconciler/${env}`;
        await store.acquireLease(name, 'a', 60_000, T0);
        expect(await store.releaseLease(name, 'b')).toBe(false);
        expect((await store.getLease(name))?.owner).toBe('a');
        expect(await store.releaseLease(name, 'a')).toBe(true);
        expect(await store.getLease(name)).toEqual({ name, owner: null, expiresAt: null, token: 1 });
        expect(await store.releaseLease(name, 'a')).toBe(false);
        expect(await store.acquireLease(name, 'b', 1_000, T0 + 1)).toEqual({
          name,
          owner: 'b',
          expiresAt: T0 + 1_001,
          token: 2,
        });
        expect(await store.releaseLease(`never-taken/${env}`, 'a')).toBe(false);
      });

      it('keeps leases of different names apart', async () => {
        await store.acquireLease(`reconciler/${env}`, 'a', 1_000, T0);
        expect(await store.acquireLease(`reconciler/${other}`, 'b', 1_000, T0)).toMatchObject({
          owner: 'b',
          token: 1,
        });
      });

      it('lets exactly one of several concurrent acquisitions win', async () => {
        const name = `reconciler/${env}`;
        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map((owner) => store.acquireLease(name, owner, 1_000, T0)),
        );
        const winners = results.filter((lease) => lease !== null);
        expect(winners).toHaveLength(1);
        expect((await store.getLease(name))?.owner).toBe(winners[0]!.owner);
      });
    });

    describe('inventory', () => {
      it('puts, updates (keeping createdAt), lists and deletes resources', async () => {
        const before = Date.now();
        await store.putResource(resource(env, 'web', 'route', 'tg-1'));
        await store.putResource(resource(env, 'web', 'compute', 'svc-1', { generation: 1 }));
        await store.putResource(resource(env, 'api', 'compute', 'svc-2'));
        await store.putResource(resource(other, 'web', 'compute', 'svc-3'));

        const listed = await store.listResources(env);
        expect(listed.map((r) => `${r.service}/${r.kind}/${r.providerId}`)).toEqual([
          'api/compute/svc-2',
          'web/compute/svc-1',
          'web/route/tg-1',
        ]);
        const compute = listed[1]!;
        expect(compute).toMatchObject(resource(env, 'web', 'compute', 'svc-1', { generation: 1 }));
        expect(Date.parse(compute.createdAt)).toBeGreaterThanOrEqual(before - 1);
        expect(compute.updatedAt).toBe(compute.createdAt);

        await nextMillisecond();
        await store.putResource(
          resource(env, 'web', 'compute', 'svc-1', { generation: 2, attributes: { image: 'b' } }),
        );
        const updated = (await store.listResources(env, 'web')).find((r) => r.providerId === 'svc-1')!;
        expect(updated).toMatchObject({
          generation: 2,
          attributes: { image: 'b' },
          createdAt: compute.createdAt,
        });
        expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(compute.createdAt));

        await store.deleteResource(env, 'web', 'compute', 'svc-1');
        await store.deleteResource(env, 'web', 'compute', 'svc-1'); // already gone: still fine
        expect((await store.listResources(env, 'web')).map((r) => r.providerId)).toEqual(['tg-1']);
        expect(await store.listResources(env, 'nothing')).toEqual([]);
      });
    });

    describe('bulk read of an environment', () => {
      /** What the per-service reads say of every active service: readEnvironment must say the same. */
      async function perService() {
        return Promise.all(
          (await store.listServices(env)).map(async (record) => ({
            record,
            revision: record.currentRevision
              ? await store.getRevision(env, record.name, record.currentRevision)
              : null,
            latestOperation: (await store.listOperations(env, record.name, 1))[0] ?? null,
            activeOperation: await store.getActiveOperation(env, record.name),
          })),
        );
      }

      it('reads every active service with its revision and operations, as the per-service reads do', async () => {
        // web: deployed twice (revision 2 current), its last operation finished; inventory.
        await store.addRevision(revision(env, 'web'));
        await store.addRevision({ ...revision(env, 'web'), spec: spec('web', { replicas: 2 }) });
        await store.putService(service(env, 'web', { currentRevision: 2, lastHealthyRevision: 2 }), null);
        const first = await store.createOperation(operation(env, 'web'));
        const claimed = (await store.claimOperation(first.id, 'runner', 60_000, Date.now()))!;
        await store.saveOperation(
          { ...claimed, status: 'succeeded', finishedAt: new Date().toISOString() },
          60_000,
          Date.now(),
        );
        await nextMillisecond();
        const second = await store.createOperation(operation(env, 'web', { kind: 'repair' }));
        const running = (await store.claimOperation(second.id, 'runner', 60_000, Date.now()))!;
        await store.saveOperation(
          { ...running, status: 'failed', error: 'boom', finishedAt: new Date().toISOString() },
          60_000,
          Date.now(),
        );
        await store.putResource(resource(env, 'web', 'compute', 'web-1'));
        await store.putResource(resource(env, 'web', 'dns', 'web.example'));
        // api: a deploy under way (active), no revision yet.
        await store.putService(service(env, 'api'), null);
        await store.createOperation(operation(env, 'api'));
        // old: deleted; worker: never operated on; and another environment's service.
        await store.addRevision(revision(env, 'old'));
        await store.putService(service(env, 'old', { currentRevision: 1, status: 'deleted' }), null);
        await store.putResource(resource(env, 'old', 'compute', 'old-1'));
        await store.putService(service(env, 'worker'), null);
        await store.putService(service(other, 'web'), null);
        await store.createOperation(operation(other, 'web'));

        const bulk = await store.readEnvironment(env);
        expect(bulk.map((state) => state.record.name)).toEqual(['api', 'web', 'worker']);
        expect(bulk).toEqual(await perService());
        const web = bulk[1]!;
        expect(web.revision?.spec.replicas).toBe(2);
        expect(web.latestOperation).toMatchObject({ id: second.id, status: 'failed', error: 'boom' });
        expect(web.activeOperation).toBeNull();
        expect(bulk[0]!.activeOperation).toMatchObject({ status: 'pending', service: 'api' });
        expect(bulk[0]!.latestOperation).toEqual(bulk[0]!.activeOperation);

        // A second read (a store may keep what never changes) still sees what changed since.
        const third = await store.createOperation(operation(env, 'web'));
        await store.addRevision(revision(env, 'web'));
        await store.putService(service(env, 'web', { currentRevision: 3 }), 1);
        const again = await store.readEnvironment(env);
        expect(again).toEqual(await perService());
        expect(again[1]!.activeOperation?.id).toBe(third.id);
        expect(again[1]!.revision?.number).toBe(3);
        expect(await store.readEnvironment(uniqueName('env'))).toEqual([]);
      });
    });

    describe('events', () => {
      it('appends with increasing seq and server time, and lists in order', async () => {
        const before = Date.now();
        const a = await store.appendEvent(event(env, 'web', 'one', { data: { n: 1 } }));
        const b = await store.appendEvent(event(env, null, 'two', { operationId: null }));
        const after = Date.now();
        expect(b.seq).toBeGreaterThan(a.seq);
        expect(a.time).toMatch(ISO);
        expect(Date.parse(a.time)).toBeGreaterThanOrEqual(before);
        expect(Date.parse(b.time)).toBeLessThanOrEqual(after);
        expect(await store.listEvents({ env })).toEqual([a, b]);
        expect(a.data).toEqual({ n: 1 });
        expect(b).toMatchObject({ service: null, operationId: null, data: null });
      });

      it('resumes after a seq, a page at a time', async () => {
        const all = [];
        for (let i = 0; i < 5; i++) all.push(await store.appendEvent(event(env, 'web', `e${i}`)));
        expect(await store.listEvents({ env, afterSeq: all[1]!.seq })).toEqual(all.slice(2));
        expect(await store.listEvents({ env, afterSeq: all[1]!.seq, limit: 2 })).toEqual(all.slice(2, 4));
        expect(await store.listEvents({ env, afterSeq: all[4]!.seq })).toEqual([]);
        expect(await store.listEvents({ env, limit: 2 })).toEqual(all.slice(0, 2));
      });

      it('lists the newest N, oldest first, with every filter', async () => {
        const all = [];
        for (let i = 0; i < 6; i++)
          all.push(await store.appendEvent(event(env, i % 2 ? 'api' : 'web', `e${i}`)));
        await store.appendEvent(event(other, 'web', 'x'));
        expect(await store.listEvents({ env, limit: 2, newest: true })).toEqual(all.slice(4));
        expect(await store.listEvents({ env, limit: 10, newest: true })).toEqual(all);
        expect(await store.listEvents({ env, service: 'web', limit: 2, newest: true })).toEqual([
          all[2],
          all[4],
        ]);
        expect(await store.listEvents({ env, afterSeq: all[3]!.seq, limit: 5, newest: true })).toEqual(
          all.slice(4),
        );
        expect(await store.listEvents({ env, limit: 0, newest: true })).toEqual([]);
        expect(await store.listEvents({ env, newest: true })).toEqual(all);
      });

      it('filters by environment, service and operation', async () => {
        const web = await store.appendEvent(event(env, 'web', 'w', { operationId: 'op-1' }));
        const api = await store.appendEvent(event(env, 'api', 'a', { operationId: 'op-2' }));
        const envWide = await store.appendEvent(event(env, null, 'refused'));
        const web2 = await store.appendEvent(event(env, 'web', 'w2', { operationId: 'op-3' }));
        await store.appendEvent(event(other, 'web', 'x', { operationId: 'op-1' }));

        expect(await store.listEvents({ env })).toEqual([web, api, envWide, web2]);
        expect(await store.listEvents({ env, service: 'web' })).toEqual([web, web2]);
        expect(await store.listEvents({ env, operationId: 'op-2' })).toEqual([api]);
        expect(await store.listEvents({ env, service: 'web', operationId: 'op-3' })).toEqual([web2]);
      });

      it('keeps given times and filters by an inclusive time window, comparing instants', async () => {
        const times = ['2030-01-01T00:00:00.000Z', '2030-01-01T00:00:01.000Z', '2030-01-01T00:00:02.000Z'];
        const events = [];
        for (const time of times) events.push(await store.appendEvent({ ...event(env, 'web', time), time }));
        expect(events.map((e) => e.time)).toEqual(times);

        expect(await store.listEvents({ env, since: times[1], until: times[2] })).toEqual(events.slice(1));
        expect(await store.listEvents({ env, until: times[0] })).toEqual(events.slice(0, 1));
        // The same instants written with an offset.
        const window = { since: '2030-01-01T01:00:01+01:00', until: '2029-12-31T23:30:01.000-00:30' };
        expect(await store.listEvents({ env, ...window })).toEqual(events.slice(1, 2));

        const shifted = await store.appendEvent({
          ...event(env, 'web', 'offset'),
          time: '2030-01-01T02:00:03+02:00',
        });
        expect(shifted.time).toBe('2030-01-01T00:00:03.000Z');
      });
    });

    describe('audit', () => {
      it('appends with ids and server time, and filters by environment and inclusive time window', async () => {
        const before = Date.now();
        const now = await store.appendAudit(audit(env, 'deploy'));
        expect(now.time).toMatch(ISO);
        expect(Date.parse(now.time)).toBeGreaterThanOrEqual(before);
        expect(now.args).toEqual({ path: '.' });

        const times = ['2030-01-01T00:00:00.000Z', '2030-01-01T00:00:01.000Z', '2030-01-01T00:00:02.000Z'];
        const timed = [];
        for (const time of times) timed.push(await store.appendAudit({ ...audit(env, 'delete'), time }));
        await store.appendAudit({ ...audit(other, 'delete'), time: times[1] });
        expect(timed[1]!.id).toBeGreaterThan(timed[0]!.id);

        expect(await store.listAudit({ env })).toEqual([now, ...timed]);
        expect(await store.listAudit({ env, since: times[1], until: times[2] })).toEqual(timed.slice(1));
        expect(await store.listAudit({ env, since: times[0], until: times[0] })).toEqual(timed.slice(0, 1));
        expect(await store.listAudit({ env, limit: 2 })).toEqual([now, timed[0]]);
        const bothEnvs = await store.listAudit({ since: times[1], until: times[1] });
        expect(bothEnvs.map((a) => a.env)).toEqual(expect.arrayContaining([env, other]));
      });
    });
  });
}

// Fixtures

/** A fixed "now" for lease arithmetic; the store must use the caller's nowMs, not its clock. */
const T0 = Date.UTC(2030, 0, 1);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Lets the wall clock move on, so that records created next have a later createdAt. */
async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  while (Date.now() <= start) await new Promise((resolve) => setTimeout(resolve, 1));
}

function spec(name: string, overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    run: { command: ['node', 'server.js'], cwd: '/srv/app' },
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
    env: { GREETING: 'hello' },
    protection: { deletion: false },
    drift: 'heal',
    ...overrides,
  };
}

function service(
  env: string,
  name: string,
  overrides: Partial<ServiceRecord> = {},
): Omit<ServiceRecord, 'version'> {
  return {
    env,
    name,
    currentRevision: null,
    lastHealthyRevision: null,
    generation: 1,
    status: 'active',
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:00:00.000Z',
    ...overrides,
  };
}

function revision(env: string, name: string) {
  return { env, service: name, spec: spec(name), specHash: 'h1', origin: { kind: 'deploy' as const } };
}

function step(name: string, overrides: Partial<StepRecord> = {}): StepRecord {
  return {
    name,
    status: 'pending',
    startedAt: null,
    finishedAt: null,
    message: null,
    attempts: 0,
    checkpoint: null,
    ...overrides,
  };
}

function operation(env: string, name: string, overrides: Partial<NewOperation> = {}): NewOperation {
  return {
    id: uniqueName('op'),
    env,
    service: name,
    kind: 'deploy',
    status: 'pending',
    revision: 1,
    params: {},
    steps: [step('create-compute'), step('create-route')],
    ...overrides,
  };
}

function resource(
  env: string,
  name: string,
  kind: 'compute' | 'route' | 'dns' | 'healthcheck',
  providerId: string,
  overrides: { generation?: number; attributes?: Record<string, unknown> } = {},
) {
  return { env, service: name, kind, providerId, generation: 1, attributes: { image: 'a' }, ...overrides };
}

function event(
  env: string,
  name: string | null,
  message: string,
  overrides: { operationId?: string | null; data?: Record<string, unknown> | null } = {},
) {
  return { env, service: name, operationId: null, type: 'step.succeeded', message, data: null, ...overrides };
}

function audit(env: string, action: string) {
  return {
    actor: 'alice',
    interface: 'direct' as const,
    env,
    identity: 'local:alice',
    action,
    args: { path: '.' },
    result: 'ok',
  };
}
