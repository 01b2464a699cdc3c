import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { ActiveOperationError } from '../../src/state/store.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../src/state/sqlite/migrations.js';
import { SqliteStateStore, defaultStatePath } from '../../src/state/sqlite/store.js';
import { prepareChildStore, type ChildStoreKit } from './child-store.js';
import { describeStateStoreContract } from './contract.js';

let contractDir: string | undefined;
describeStateStoreContract(
  'sqlite',
  async () => {
    contractDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-'));
    return SqliteStateStore.open(path.join(contractDir, 'state.db'));
  },
  async () => {
    if (contractDir) fs.rmSync(contractDir, { recursive: true, force: true });
    contractDir = undefined;
  },
);

describe('SqliteStateStore', () => {
  let dir: string;
  let file: string;
  const opened: SqliteStateStore[] = [];
  const open = () => {
    const store = SqliteStateStore.open(file);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-'));
    file = path.join(dir, 'data', 'state.db');
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its file at <dataDir>/state.db', () => {
    expect(defaultStatePath('/home/a/.berth')).toBe('/home/a/.berth/state.db');
  });

  it('creates a private directory and a private file, WAL files included', async () => {
    const store = open();
    await store.appendEvent({
      env: 'e',
      service: null,
      operationId: null,
      type: 't',
      message: 'm',
      data: null,
    });
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(`${file}-wal`).mode & 0o777).toBe(0o600);
  });

  it('sets WAL, busy_timeout, foreign keys and synchronous NORMAL on every connection', () => {
    open();
    // A second connection reads the persistent setting (WAL); the others are per connection.
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
    const store = open() as unknown as { db: Database.Database };
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
  });

  it('applies migrations once: reopening keeps the data and applies nothing', async () => {
    const first = open();
    await first.putService(serviceInput('web'), null);
    await first.close();

    const db = new Database(file);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(migrate(db)).toBe(0);
    } finally {
      db.close();
    }
    const again = open();
    expect((await again.getService('local', 'web'))?.version).toBe(1);
  });

  it('applies only the migrations a file has not had yet', () => {
    const db = new Database(path.join(dir, 'partial.db'));
    try {
      const extra = [...MIGRATIONS, { name: 'add a table', sql: 'CREATE TABLE extra (x INTEGER)' }];
      expect(migrate(db)).toBe(MIGRATIONS.length);
      expect(migrate(db, extra)).toBe(1);
      expect(migrate(db, extra)).toBe(0);
      expect(db.pragma('user_version', { simple: true })).toBe(extra.length);
    } finally {
      db.close();
    }
  });

  it('rolls back a failed migration entirely', () => {
    const db = new Database(path.join(dir, 'broken.db'));
    try {
      const broken = [...MIGRATIONS, { name: 'broken', sql: 'CREATE TABLE fine (x); NOT SQL' }];
      expect(() => migrate(db, broken)).toThrow(
        new RegExp(`migration ${MIGRATIONS.length + 1} \\(broken\\)`),
      );
      expect(db.pragma('user_version', { simple: true })).toBe(0);
      expect(
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'services'").get(),
      ).toBe(undefined);
    } finally {
      db.close();
    }
  });

  it('refuses a file written by a newer schema', () => {
    open();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => SqliteStateStore.open(file)).toThrow(/newer than this berth understands/);
  });

  it('uses its clock for the times it sets', async () => {
    const store = SqliteStateStore.open(file, { clock: { now: () => Date.UTC(2031, 5, 1) } });
    opened.push(store);
    const event = await store.appendEvent({
      env: 'e',
      service: null,
      operationId: null,
      type: 't',
      message: 'm',
      data: null,
    });
    expect(event.time).toBe('2031-06-01T00:00:00.000Z');
  });

  describe('two stores on one file (one process)', () => {
    it('see each other’s writes and keep one active operation and one lease holder', async () => {
      const a = open();
      const b = open();
      const op = await a.createOperation(newOperation('op-a'));
      await expect(b.createOperation(newOperation('op-b'))).rejects.toBeInstanceOf(ActiveOperationError);
      expect((await b.getActiveOperation('local', 'web'))?.id).toBe('op-a');

      expect(await a.claimOperation(op.id, 'runner-a', 60_000, Date.now())).not.toBeNull();
      expect(await b.claimOperation(op.id, 'runner-b', 60_000, Date.now())).toBeNull();

      await a.putService(serviceInput('web'), null);
      await expect(b.putService(serviceInput('web'), null)).rejects.toThrow(/already exists/);
    });
  });

  describe('separate processes on one file', () => {
    let kit: ChildStoreKit;
    beforeAll(() => {
      kit = prepareChildStore();
    });
    afterAll(() => kit?.dispose());

    it('opening a new file at once and creating the same service’s operation: exactly one wins', async () => {
      // No store has opened the file yet: the children also race to create and migrate it.
      const outcomes = await kit.race(4, file, 'create', { env: 'local', service: 'web', openAfterGo: true });
      const winners = outcomes.filter((o) => o.won);
      expect(winners, JSON.stringify(outcomes)).toHaveLength(1);
      for (const loser of outcomes.filter((o) => !o.won)) {
        expect(loser.error).toMatchObject({ name: 'ActiveOperationError', activeId: winners[0]!.id });
      }
      const store = open();
      expect((await store.listOperations('local', 'web')).map((o) => o.id)).toEqual([winners[0]!.id]);
    });

    it('claiming the same lease at once: exactly one wins', async () => {
      const store = open();
      await store.createOperation(newOperation('op-race'));
      const outcomes = await kit.race(4, file, 'claim', { id: 'op-race' });
      const winners = outcomes.filter((o) => o.won);
      expect(winners, JSON.stringify(outcomes)).toHaveLength(1);
      expect(outcomes.filter((o) => o.error)).toEqual([]);
      const claimed = await store.getOperation('op-race');
      expect(claimed).toMatchObject({ leaseOwner: winners[0]!.owner, fencingToken: 1, status: 'running' });
    });

    it('contended read-modify-writes lose nothing and never fail with SQLITE_BUSY', async () => {
      const store = open();
      await store.putService(serviceInput('web'), null);
      const times = 20;
      const outcomes = await kit.race(4, file, 'increment', { env: 'local', service: 'web', times });
      expect(
        outcomes.filter((o) => o.error),
        JSON.stringify(outcomes),
      ).toEqual([]);

      expect(await store.getService('local', 'web')).toMatchObject({
        version: 1 + 4 * times,
        generation: 1 + 4 * times,
      });
      const seqs = (await store.listEvents({ env: 'local' })).map((e) => e.seq);
      expect(seqs).toHaveLength(4 * times);
      expect(new Set(seqs).size).toBe(seqs.length);
      const numbers = (await store.listRevisions('local', 'web')).map((r) => r.number);
      expect(numbers).toEqual(Array.from({ length: 4 * times }, (_, i) => 4 * times - i));
    });
  });
});

function serviceInput(name: string) {
  return {
    env: 'local',
    name,
    currentRevision: null,
    lastHealthyRevision: null,
    generation: 1,
    status: 'active' as const,
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:00:00.000Z',
  };
}

function newOperation(id: string) {
  return {
    id,
    env: 'local',
    service: 'web',
    kind: 'deploy' as const,
    status: 'pending' as const,
    revision: 1,
    params: {},
    steps: [],
  };
}
