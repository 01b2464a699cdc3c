/**
 * The StateStore contract on DynamoDB (a real moto server), plus what only several stores on one
 * table can show: one lease holder and one active operation across control planes.
 */
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DynamoStateStore } from '../../src/state/dynamodb/store.js';
import { createDynamoClient, ensureTable } from '../../src/state/dynamodb/table.js';
import { ActiveOperationError } from '../../src/state/store.js';
import { describeStateStoreContract } from '../state/contract.js';
import { motoConnection, startMoto, STAGING_ACCOUNT, type MotoServer } from '../helpers/moto.js';

const TABLE = 'berth-contract';
let moto: MotoServer | undefined;

beforeAll(async () => {
  moto = await startMoto();
  const client = createDynamoClient(motoConnection(moto, STAGING_ACCOUNT));
  try {
    expect(await ensureTable(client, TABLE)).toBe('created');
    expect(await ensureTable(client, TABLE)).toBe('found');
  } finally {
    client.destroy();
  }
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

const open = () =>
  DynamoStateStore.open({ table: TABLE, connection: motoConnection(moto!, STAGING_ACCOUNT) });

describeStateStoreContract('dynamodb (moto)', open);

/** A store that pushes the name of every DynamoDB command it sends onto `calls`. */
const openCounting = (calls: string[]) => {
  const connection = motoConnection(moto!, STAGING_ACCOUNT);
  return DynamoStateStore.open({
    table: TABLE,
    connection: {
      ...connection,
      customize: (stack, service) => {
        connection.customize?.(stack, service);
        stack.add(
          (next, context) => (args) => {
            calls.push(String(context.commandName));
            return next(args);
          },
          { step: 'build', name: 'countCalls' },
        );
      },
    },
  });
};

describe('DynamoStateStore', () => {
  it('refuses to open a table that does not exist, naming env init', async () => {
    await expect(
      DynamoStateStore.open({ table: 'no-such-table', connection: motoConnection(moto!, STAGING_ACCOUNT) }),
    ).rejects.toThrow(/no-such-table does not exist/);
  });

  it('several control planes on one table: one active operation, one lease holder, fencing on takeover', async () => {
    const stores = await Promise.all([open(), open(), open()]);
    try {
      const env = `env-${Date.now().toString(36)}`;
      const outcomes = await Promise.allSettled(
        stores.map((store, i) =>
          store.createOperation({
            id: `op-${env}-${i}`,
            env,
            service: 'web',
            kind: 'deploy',
            status: 'pending',
            revision: 1,
            params: {},
            steps: [],
          }),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes)
        if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ActiveOperationError);

      // One reconciler leader per environment; when it stops renewing, another takes over.
      const now = Date.now();
      const leases = await Promise.all(
        stores.map((store, i) => store.acquireLease(`reconciler/${env}`, `plane-${i}`, 1_000, now)),
      );
      const leaders = leases.filter((lease) => lease !== null);
      expect(leaders).toHaveLength(1);
      const leader = leaders[0]!;
      const follower = stores.find((_, i) => `plane-${i}` !== leader.owner)!;
      expect(await follower.acquireLease(`reconciler/${env}`, 'plane-x', 1_000, now + 999)).toBeNull();
      const next = await follower.acquireLease(`reconciler/${env}`, 'plane-x', 1_000, now + 1_000);
      expect(next).toMatchObject({ owner: 'plane-x', token: leader.token + 1 });

      // An operation never runs in two places: a takeover fences the old runner's writes.
      const won = outcomes.find((o) => o.status === 'fulfilled') as PromiseFulfilledResult<{ id: string }>;
      const a = (await stores[0]!.claimOperation(won.value.id, 'plane-a', 1_000, now))!;
      expect(await stores[1]!.claimOperation(won.value.id, 'plane-b', 1_000, now + 500)).toBeNull();
      const b = (await stores[1]!.claimOperation(won.value.id, 'plane-b', 1_000, now + 1_000))!;
      expect(b.fencingToken).toBe(a.fencingToken + 1);
      await expect(stores[0]!.saveOperation(a, 1_000, now + 1_001)).rejects.toThrow(/taken over/);
      await stores[1]!.saveOperation({ ...b, status: 'succeeded' }, 1_000, now + 1_001);
      expect(await stores[2]!.getActiveOperation(env, 'web')).toBeNull();
    } finally {
      for (const store of stores) await store.close();
    }
  });
});

describe('DynamoStateStore bulk read', () => {
  it('reads the newest operation of a table written before the latest-operation item, once, and records it', async () => {
    const store = await open();
    const raw = DynamoDBDocumentClient.from(createDynamoClient(motoConnection(moto!, STAGING_ACCOUNT)));
    try {
      const env = `env-${Date.now().toString(36)}`;
      await store.putService(
        {
          env,
          name: 'web',
          currentRevision: null,
          lastHealthyRevision: null,
          generation: 1,
          status: 'active',
          createdAt: '2030-01-01T00:00:00.000Z',
          updatedAt: '2030-01-01T00:00:00.000Z',
        },
        null,
      );
      const op = await store.createOperation({
        id: `op-${env}`,
        env,
        service: 'web',
        kind: 'deploy',
        status: 'pending',
        revision: 1,
        params: {},
        steps: [],
      });
      // As an older berth left it: no latest-operation item.
      await raw.send(new DeleteCommand({ TableName: TABLE, Key: { pk: `LATEST#${env}`, sk: 'web' } }));

      const [web] = await store.readEnvironment(env);
      expect(web?.latestOperation?.id).toBe(op.id);
      expect(web?.activeOperation?.id).toBe(op.id);
      const item = await raw.send(
        new GetCommand({ TableName: TABLE, Key: { pk: `LATEST#${env}`, sk: 'web' } }),
      );
      expect(item.Item).toMatchObject({ operationId: op.id });
    } finally {
      raw.destroy();
      await store.close();
    }
  });
});

describe('DynamoStateStore bulk read, again', () => {
  it('reads again only the services whose newest operation changed: one read of the operations marker when nothing did', async () => {
    const calls: string[] = [];
    const store = await openCounting(calls);
    try {
      const env = `env-${Date.now().toString(36)}`;
      let operations = 0;
      const deploy = async (name: string, revisionNumber: number) => {
        const op = await store.createOperation({
          id: `op-${env}-${(operations += 1)}`,
          env,
          service: name,
          kind: 'deploy',
          status: 'pending',
          revision: revisionNumber,
          params: {},
          steps: [],
        });
        const claimed = (await store.claimOperation(op.id, 'runner', 60_000, Date.now()))!;
        const current = await store.getService(env, name);
        await store.putService(
          {
            env,
            name,
            currentRevision: revisionNumber,
            lastHealthyRevision: revisionNumber,
            generation: revisionNumber,
            status: 'active',
            createdAt: '2030-01-01T00:00:00.000Z',
            updatedAt: '2030-01-01T00:00:00.000Z',
          },
          current?.version ?? null,
        );
        await store.saveOperation(
          { ...claimed, status: 'succeeded', finishedAt: new Date().toISOString() },
          60_000,
          Date.now(),
        );
      };
      for (const name of ['a', 'b', 'c']) {
        await store.addRevision({
          env,
          service: name,
          spec: { name } as never,
          specHash: 'h',
          origin: { kind: 'deploy' },
        });
        await deploy(name, 1);
      }
      const first = await store.readEnvironment(env);
      expect(first.map((s) => [s.record.name, s.record.generation])).toEqual([
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ]);

      // Nothing started or finished since: the operations marker alone, no query.
      calls.length = 0;
      expect(await store.readEnvironment(env)).toEqual(first);
      expect(calls).toEqual(['GetItemCommand']);

      // b is deployed again (by this or another control plane): only b is read again.
      await store.addRevision({
        env,
        service: 'b',
        spec: { name: 'b' } as never,
        specHash: 'h2',
        origin: { kind: 'deploy' },
      });
      await deploy('b', 2);
      calls.length = 0;
      const again = await store.readEnvironment(env);
      expect(again.map((s) => [s.record.name, s.record.generation, s.revision?.number])).toEqual([
        ['a', 1, 1],
        ['b', 2, 2],
        ['c', 1, 1],
      ]);
      expect(calls.sort()).toEqual([
        'BatchGetItemCommand',
        'BatchGetItemCommand',
        'BatchGetItemCommand',
        'GetItemCommand',
        'QueryCommand',
      ]);

      // c is deleted (within its delete operation, as berth deletes): gone from the next read.
      const removal = await store.createOperation({
        id: `op-${env}-delete-c`,
        env,
        service: 'c',
        kind: 'delete',
        status: 'pending',
        revision: null,
        params: {},
        steps: [],
      });
      const removing = (await store.claimOperation(removal.id, 'runner', 60_000, Date.now()))!;
      await store.deleteService(env, 'c', (await store.getService(env, 'c'))!.version);
      await store.saveOperation(
        { ...removing, status: 'succeeded', finishedAt: new Date().toISOString() },
        60_000,
        Date.now(),
      );
      const later = await store.readEnvironment(env);
      expect(later.map((s) => s.record.name)).toEqual(['a', 'b']);
    } finally {
      await store.close();
    }
  });
  it("sees another control plane's new operation at once, in the bulk read and the listing of the newest", async () => {
    const calls: string[] = [];
    const store = await openCounting(calls);
    const other = await open();
    const env = `other-${Date.now().toString(36)}`;
    const start = (writer: DynamoStateStore, service: string, n: number) =>
      writer.createOperation({
        id: `op-${env}-${service}-${n}`,
        env,
        service,
        kind: 'deploy',
        status: 'pending',
        revision: 1,
        params: {},
        steps: [],
      });
    try {
      for (const name of ['a', 'b']) {
        await other.addRevision({
          env,
          service: name,
          spec: { name } as never,
          specHash: 'h',
          origin: { kind: 'deploy' },
        });
        await other.putService(
          {
            env,
            name,
            currentRevision: 1,
            lastHealthyRevision: 1,
            generation: 1,
            status: 'active',
            createdAt: '2030-01-01T00:00:00.000Z',
            updatedAt: '2030-01-01T00:00:00.000Z',
          },
          null,
        );
      }
      await start(other, 'a', 1);
      await store.readEnvironment(env);
      const listed = await store.listOperations(env, undefined, 5);
      expect(listed.map((op) => op.id)).toEqual([`op-${env}-a-1`]);
      // Nothing new: the same operations, read again by key (fresh statuses), no query.
      calls.length = 0;
      expect((await store.listOperations(env, undefined, 5)).map((op) => op.id)).toEqual([`op-${env}-a-1`]);
      expect(calls.sort()).toEqual(['BatchGetItemCommand', 'GetItemCommand']);

      await start(other, 'b', 1);
      const [, b] = await store.readEnvironment(env);
      expect(b?.activeOperation?.id).toBe(`op-${env}-b-1`);
      expect((await store.listOperations(env, undefined, 5)).map((op) => op.id)).toEqual([
        `op-${env}-b-1`,
        `op-${env}-a-1`,
      ]);
    } finally {
      await other.close();
      await store.close();
    }
  });
});
