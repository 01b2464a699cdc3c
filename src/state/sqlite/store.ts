import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

import { isoTime, systemClock, type Clock } from '../../core/clock.js';
import type { ServiceSpec } from '../../spec/types.js';
import {
  ActiveOperationError,
  type AuditQuery,
  type AuditRecord,
  type EventQuery,
  type EventRecord,
  type LeaseRecord,
  type NewAudit,
  type NewEvent,
  type OperationRecord,
  type OperationStatus,
  type ResourceKind,
  type ResourceRecord,
  type RevisionRecord,
  type ServiceRecord,
  type ServiceSweepState,
  type StateStore,
  type StepRecord,
} from '../store.js';
import { checkServiceVersionForDelete, operationExists, serviceConflict } from '../shared/errors.js';
import { acquiredLease } from '../shared/leases.js';
import { normalizeLimit, normalizeTimeBounds } from '../shared/normalize.js';
import { checkNotFenced, claimedOperation, savedOperationFields } from '../shared/operations.js';
import {
  newAudit,
  newEvent,
  newOperation,
  newRevision,
  serviceFields,
  type NewOperation,
} from '../shared/records.js';
import { assembleSweepStates } from '../shared/sweep.js';
import { migrate } from './migrations.js';

/** Where the SQLite state lives inside a data dir. */
export function defaultStatePath(dataDir: string): string {
  return path.join(dataDir, 'state.db');
}

export interface SqliteStateStoreOptions {
  /** Source of the store's own timestamps (createdAt, event and audit times). */
  clock?: Clock;
}

/** The SQL condition that an operation is active (the schema allows one such per service). */
const ACTIVE_STATUS = "status IN ('pending', 'running')";

/** A `column op ?` condition of a listing query, with its value; undefined leaves it out. */
type Condition = readonly [clause: string, value: unknown];

/**
 * The embedded StateStore: one SQLite file (WAL mode) shared by every berth process on the
 * machine: the control plane, and CLI processes running `--direct`.
 *
 * Because those processes write the same file at once, every read-modify-write runs as one
 * `BEGIN IMMEDIATE` transaction: the write lock is taken before the read, so the read cannot go
 * stale (a deferred transaction would instead fail with SQLITE_BUSY_SNAPSHOT when it tried to
 * upgrade, which busy_timeout cannot wait out). Invariants that must hold across processes are
 * enforced by the schema itself (see migrations.ts), not by checks in this process.
 *
 * better-sqlite3 is synchronous; the methods are async only to match the StateStore shape.
 */
export class SqliteStateStore implements StateStore {
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Opens (creating if needed) the state file and brings its schema up to date. The file holds
   * deployment history and audit, so a new file and its directory are private to the user.
   */
  static open(file: string, options: SqliteStateStoreOptions = {}): SqliteStateStore {
    // `mode` applies only to directories this call creates; an existing parent (say /tmp) is left alone.
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    createPrivateFile(file);

    const db = new Database(file);
    try {
      // busy_timeout first: the statements below may already have to wait for another process.
      db.pragma('busy_timeout = 5000');
      setWalMode(db);
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteStateStore(db, options.clock ?? systemClock);
  }

  // services

  async getService(env: string, name: string): Promise<ServiceRecord | null> {
    const row = this.stmt('SELECT * FROM services WHERE env = ? AND name = ?').get(env, name) as
      ServiceRow | undefined;
    return row ? toService(row) : null;
  }

  async listServices(env: string): Promise<ServiceRecord[]> {
    const rows = this.stmt("SELECT * FROM services WHERE env = ? AND status = 'active' ORDER BY name").all(
      env,
    ) as ServiceRow[];
    return rows.map(toService);
  }

  async readEnvironment(env: string): Promise<ServiceSweepState[]> {
    // One read transaction: every part is of the same moment.
    return this.db.transaction(() => {
      const services = this.stmt(
        "SELECT * FROM services WHERE env = ? AND status = 'active' ORDER BY name",
      ).all(env) as ServiceRow[];
      const revisions = this.stmt(
        `SELECT r.* FROM services s JOIN revisions r
           ON r.env = s.env AND r.service = s.name AND r.number = s.current_revision
         WHERE s.env = ? AND s.status = 'active'`,
      ).all(env) as RevisionRow[];
      // The newest operation of each service, found through operations_by_service per service.
      const latest = this.stmt(
        `SELECT o.* FROM services s JOIN operations o ON o.rowid = (
           SELECT rowid FROM operations WHERE env = s.env AND service = s.name
           ORDER BY created_at DESC, rowid DESC LIMIT 1)
         WHERE s.env = ? AND s.status = 'active'`,
      ).all(env) as OperationRow[];
      const active = this.stmt(`SELECT * FROM operations WHERE env = ? AND ${ACTIVE_STATUS}`).all(
        env,
      ) as OperationRow[];
      return assembleSweepStates(
        services.map(toService),
        revisions.map(toRevision),
        latest.map(toOperation),
        active.map(toOperation),
      );
    })();
  }

  async putService(
    record: Omit<ServiceRecord, 'version'>,
    expectedVersion: number | null,
  ): Promise<ServiceRecord> {
    return this.immediate(() => {
      const actual = this.serviceVersion(record.env, record.name);
      if (actual !== expectedVersion) throw serviceConflict(record.env, record.name, expectedVersion, actual);
      const stored: ServiceRecord = { ...serviceFields(record), version: (expectedVersion ?? 0) + 1 };
      this.stmt(
        `INSERT INTO services (env, name, version, current_revision, last_healthy_revision, generation,
           status, created_at, updated_at)
         VALUES (@env, @name, @version, @currentRevision, @lastHealthyRevision, @generation,
           @status, @createdAt, @updatedAt)
         ON CONFLICT (env, name) DO UPDATE SET
           version = excluded.version, current_revision = excluded.current_revision,
           last_healthy_revision = excluded.last_healthy_revision, generation = excluded.generation,
           status = excluded.status, created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ).run(stored);
      return stored;
    });
  }

  async deleteService(env: string, name: string, expectedVersion: number): Promise<void> {
    this.immediate(() => {
      checkServiceVersionForDelete(env, name, expectedVersion, this.serviceVersion(env, name));
      this.stmt('DELETE FROM services WHERE env = ? AND name = ?').run(env, name);
      // Same transaction: nobody ever sees inventory for a service that no longer exists.
      this.stmt('DELETE FROM resources WHERE env = ? AND service = ?').run(env, name);
    });
  }

  // revisions

  async addRevision(input: Omit<RevisionRecord, 'number' | 'createdAt'>): Promise<RevisionRecord> {
    return this.immediate(() => {
      // MAX inside the write lock: two processes adding at once get consecutive numbers.
      const { last } = this.stmt(
        'SELECT MAX(number) AS last FROM revisions WHERE env = ? AND service = ?',
      ).get(input.env, input.service) as { last: number | null };
      const revision = newRevision(input, (last ?? 0) + 1, this.nowIso());
      this.stmt(
        `INSERT INTO revisions (env, service, number, spec, spec_hash, origin, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        revision.env,
        revision.service,
        revision.number,
        JSON.stringify(revision.spec),
        revision.specHash,
        JSON.stringify(revision.origin),
        revision.createdAt,
      );
      return revision;
    });
  }

  async getRevision(env: string, service: string, number: number): Promise<RevisionRecord | null> {
    const row = this.stmt('SELECT * FROM revisions WHERE env = ? AND service = ? AND number = ?').get(
      env,
      service,
      number,
    ) as RevisionRow | undefined;
    return row ? toRevision(row) : null;
  }

  async listRevisions(env: string, service: string): Promise<RevisionRecord[]> {
    const rows = this.stmt('SELECT * FROM revisions WHERE env = ? AND service = ? ORDER BY number DESC').all(
      env,
      service,
    ) as RevisionRow[];
    return rows.map(toRevision);
  }

  // operations

  async createOperation(input: NewOperation): Promise<OperationRecord> {
    return this.immediate(() => {
      const record = newOperation(input, this.nowIso());
      try {
        this.stmt(
          `INSERT INTO operations (id, env, service, kind, status, revision, params, steps, created_at)
           VALUES (@id, @env, @service, @kind, @status, @revision, @params, @steps, @createdAt)`,
        ).run({
          id: record.id,
          env: record.env,
          service: record.service,
          kind: record.kind,
          status: record.status,
          revision: record.revision,
          params: JSON.stringify(record.params),
          steps: JSON.stringify(record.steps),
          createdAt: record.createdAt,
        });
      } catch (error) {
        if (!isConstraintError(error)) throw error;
        // Still inside the write lock, so what we read now is what the insert collided with:
        // either the primary key (a reused id) or the one-active-operation index.
        if (this.operationRow(record.id)) throw operationExists(record.id);
        const active = this.activeOperation(record.env, record.service);
        if (active) throw new ActiveOperationError(active);
        throw error;
      }
      return record;
    });
  }

  async getOperation(id: string): Promise<OperationRecord | null> {
    const row = this.operationRow(id);
    return row ? toOperation(row) : null;
  }

  async getActiveOperation(env: string, service: string): Promise<OperationRecord | null> {
    return this.activeOperation(env, service);
  }

  async listOperations(env: string, service?: string, limit?: number): Promise<OperationRecord[]> {
    const where: Condition[] = [
      ['env = ?', env],
      ['service = ?', service],
    ];
    // rowid breaks ties between operations created in the same millisecond.
    return this.select<OperationRow>('operations', where, 'created_at DESC, rowid DESC', limit).map(
      toOperation,
    );
  }

  async claimOperation(
    id: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
  ): Promise<OperationRecord | null> {
    return this.immediate(() => {
      const row = this.operationRow(id);
      const claimed = row ? claimedOperation(toOperation(row), owner, leaseMs, nowMs) : null;
      if (!claimed) return null;
      this.stmt(
        `UPDATE operations SET status = ?, started_at = ?, lease_owner = ?, lease_expires_at = ?,
           fencing_token = ? WHERE id = ?`,
      ).run(
        claimed.status,
        claimed.startedAt,
        claimed.leaseOwner,
        claimed.leaseExpiresAt,
        claimed.fencingToken,
        id,
      );
      return claimed;
    });
  }

  async saveOperation(record: OperationRecord, leaseMs: number, nowMs: number): Promise<void> {
    this.immediate(() => {
      const row = this.operationRow(record.id);
      const stored = row ? toOperation(row) : null;
      checkNotFenced(record, stored);
      // cancel_requested is deliberately not written: a cancel that arrives while the runner is
      // between reading and saving must not be overwritten by the runner's older copy.
      this.stmt(
        `UPDATE operations SET status = @status, steps = @steps, revision = @revision, error = @error,
           started_at = @startedAt, finished_at = @finishedAt, params = @params,
           lease_owner = @leaseOwner, lease_expires_at = @leaseExpiresAt
         WHERE id = @id AND fencing_token = @fencingToken`,
      ).run({
        id: record.id,
        fencingToken: record.fencingToken,
        leaseOwner: stored.leaseOwner,
        ...savedOperationFields(record, leaseMs, nowMs),
      });
    });
  }

  async requestCancel(id: string): Promise<OperationRecord | null> {
    return this.immediate(() => {
      this.stmt(`UPDATE operations SET cancel_requested = 1 WHERE id = ? AND ${ACTIVE_STATUS}`).run(id);
      const row = this.operationRow(id);
      return row ? toOperation(row) : null;
    });
  }

  // inventory

  async putResource(record: Omit<ResourceRecord, 'createdAt' | 'updatedAt'>): Promise<void> {
    const now = this.nowIso();
    // A single upsert statement is atomic on its own; createdAt survives updates.
    this.stmt(
      `INSERT INTO resources (env, service, kind, provider_id, generation, attributes, created_at, updated_at)
       VALUES (@env, @service, @kind, @providerId, @generation, @attributes, @now, @now)
       ON CONFLICT (env, service, kind, provider_id) DO UPDATE SET
         generation = excluded.generation, attributes = excluded.attributes, updated_at = excluded.updated_at`,
    ).run({
      env: record.env,
      service: record.service,
      kind: record.kind,
      providerId: record.providerId,
      generation: record.generation,
      attributes: JSON.stringify(record.attributes),
      now,
    });
  }

  async deleteResource(env: string, service: string, kind: ResourceKind, providerId: string): Promise<void> {
    this.stmt('DELETE FROM resources WHERE env = ? AND service = ? AND kind = ? AND provider_id = ?').run(
      env,
      service,
      kind,
      providerId,
    );
  }

  async listResources(env: string, service?: string): Promise<ResourceRecord[]> {
    const where: Condition[] = [
      ['env = ?', env],
      ['service = ?', service],
    ];
    return this.select<ResourceRow>('resources', where, 'service, kind, provider_id').map(toResource);
  }

  // events and audit

  async appendEvent(event: NewEvent): Promise<EventRecord> {
    const record = newEvent(event, () => this.nowIso());
    const result = this.stmt(
      `INSERT INTO events (time, env, service, operation_id, type, message, data)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.time,
      record.env,
      record.service,
      record.operationId,
      record.type,
      record.message,
      record.data === null ? null : JSON.stringify(record.data),
    );
    return { seq: Number(result.lastInsertRowid), ...record };
  }

  async listEvents(query: EventQuery): Promise<EventRecord[]> {
    const { env, service, operationId, afterSeq, since, until, limit, newest } = normalizeTimeBounds(query);
    const where: Condition[] = [
      ['env = ?', env],
      ['service = ?', service],
      ['operation_id = ?', operationId],
      ['seq > ?', afterSeq],
      ['time >= ?', since],
      ['time <= ?', until],
    ];
    // The newest N: read backwards through the index, N rows, and put them in order.
    if (newest && limit !== undefined) {
      return this.select<EventRow>('events', where, 'seq DESC', limit).reverse().map(toEvent);
    }
    return this.select<EventRow>('events', where, 'seq', limit).map(toEvent);
  }

  async appendAudit(entry: NewAudit): Promise<AuditRecord> {
    const record = newAudit(entry, () => this.nowIso());
    const result = this.stmt(
      `INSERT INTO audit (time, actor, interface, env, identity, action, args, result)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.time,
      record.actor,
      record.interface,
      record.env,
      record.identity,
      record.action,
      JSON.stringify(record.args),
      record.result,
    );
    return { id: Number(result.lastInsertRowid), ...record };
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const { env, since, until, limit } = normalizeTimeBounds(query);
    const where: Condition[] = [
      ['env = ?', env],
      ['time >= ?', since],
      ['time <= ?', until],
    ];
    return this.select<AuditRow>('audit', where, 'id', limit).map(toAudit);
  }

  // leases

  async acquireLease(name: string, owner: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null> {
    return this.immediate(() => {
      const row = this.leaseRow(name);
      const lease = acquiredLease(row ? toLease(row) : null, name, owner, ttlMs, nowMs);
      if (!lease) return null;
      this.stmt(
        `INSERT INTO leases (name, owner, expires_at, token) VALUES (@name, @owner, @expiresAt, @token)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
           token = excluded.token`,
      ).run(lease);
      return lease;
    });
  }

  async releaseLease(name: string, owner: string): Promise<boolean> {
    const result = this.stmt(
      'UPDATE leases SET owner = NULL, expires_at = NULL WHERE name = ? AND owner = ?',
    ).run(name, owner);
    return result.changes > 0;
  }

  async getLease(name: string): Promise<LeaseRecord | null> {
    const row = this.leaseRow(name);
    return row ? toLease(row) : null;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // helpers

  /** Runs `fn` in a BEGIN IMMEDIATE transaction (see the class comment for why IMMEDIATE). */
  private immediate<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Prepared statements are cached by their text; list queries have only a few shapes. */
  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * `SELECT * FROM <table>` with the conditions that have a value ANDed, in `orderBy` order, the
   * first `limit` rows (normalizeLimit) when there is one.
   */
  private select<Row>(
    table: string,
    conditions: readonly Condition[],
    orderBy: string,
    limit?: number,
  ): Row[] {
    const present = conditions.filter(([, value]) => value !== undefined);
    let sql = `SELECT * FROM ${table}`;
    if (present.length > 0) sql += ` WHERE ${present.map(([clause]) => clause).join(' AND ')}`;
    sql += ` ORDER BY ${orderBy}`;
    const args = present.map(([, value]) => value);
    if (limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(normalizeLimit(limit));
    }
    return this.stmt(sql).all(...args) as Row[];
  }

  private nowIso(): string {
    return isoTime(this.clock.now());
  }

  private serviceVersion(env: string, name: string): number | null {
    const row = this.stmt('SELECT version FROM services WHERE env = ? AND name = ?').get(env, name) as
      { version: number } | undefined;
    return row?.version ?? null;
  }

  private leaseRow(name: string): LeaseRow | undefined {
    return this.stmt('SELECT * FROM leases WHERE name = ?').get(name) as LeaseRow | undefined;
  }

  private operationRow(id: string): OperationRow | undefined {
    return this.stmt('SELECT * FROM operations WHERE id = ?').get(id) as OperationRow | undefined;
  }

  private activeOperation(env: string, service: string): OperationRecord | null {
    const row = this.stmt(`SELECT * FROM operations WHERE env = ? AND service = ? AND ${ACTIVE_STATUS}`).get(
      env,
      service,
    ) as OperationRow | undefined;
    return row ? toOperation(row) : null;
  }
}

/** Creates the file readable by its owner only, before SQLite does (SQLite would use 0644). */
function createPrivateFile(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return;
  }
  // The umask may have narrowed the mode further, never widened it; chmod makes it exact anyway.
  fs.chmodSync(file, 0o600);
}

/**
 * Switching to WAL needs a moment of exclusive access, and SQLite can report SQLITE_BUSY for it
 * without consulting busy_timeout when another process is opening the same new file. Retry
 * briefly; once any process has switched, the mode is persistent and this is a no-op.
 */
function setWalMode(db: Database.Database): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode === 'wal') return;
      throw new Error(`could not switch ${db.name} to WAL mode (got ${String(mode)})`);
    } catch (error) {
      if (!isBusyError(error) || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function isBusyError(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
}

function isConstraintError(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CONSTRAINT');
}

// Rows as SQLite returns them, and their conversion to records.

interface LeaseRow {
  name: string;
  owner: string | null;
  expires_at: number | null;
  token: number;
}

interface ServiceRow {
  env: string;
  name: string;
  version: number;
  current_revision: number | null;
  last_healthy_revision: number | null;
  generation: number;
  status: ServiceRecord['status'];
  created_at: string;
  updated_at: string;
}

interface RevisionRow {
  env: string;
  service: string;
  number: number;
  spec: string;
  spec_hash: string;
  origin: string;
  created_at: string;
}

interface OperationRow {
  id: string;
  env: string;
  service: string;
  kind: OperationRecord['kind'];
  status: OperationStatus;
  revision: number | null;
  params: string;
  steps: string;
  lease_owner: string | null;
  lease_expires_at: number | null;
  fencing_token: number;
  cancel_requested: number;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

interface ResourceRow {
  env: string;
  service: string;
  kind: ResourceKind;
  provider_id: string;
  generation: number;
  attributes: string;
  created_at: string;
  updated_at: string;
}

interface EventRow {
  seq: number;
  time: string;
  env: string;
  service: string | null;
  operation_id: string | null;
  type: string;
  message: string;
  data: string | null;
}

interface AuditRow {
  id: number;
  time: string;
  actor: string;
  interface: AuditRecord['interface'];
  env: string;
  identity: string | null;
  action: string;
  args: string;
  result: string;
}

function toLease(row: LeaseRow): LeaseRecord {
  return { name: row.name, owner: row.owner, expiresAt: row.expires_at, token: row.token };
}

function toService(row: ServiceRow): ServiceRecord {
  return {
    env: row.env,
    name: row.name,
    version: row.version,
    currentRevision: row.current_revision,
    lastHealthyRevision: row.last_healthy_revision,
    generation: row.generation,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toRevision(row: RevisionRow): RevisionRecord {
  return {
    env: row.env,
    service: row.service,
    number: row.number,
    spec: JSON.parse(row.spec) as ServiceSpec,
    specHash: row.spec_hash,
    origin: JSON.parse(row.origin) as RevisionRecord['origin'],
    createdAt: row.created_at,
  };
}

function toOperation(row: OperationRow): OperationRecord {
  return {
    id: row.id,
    env: row.env,
    service: row.service,
    kind: row.kind,
    status: row.status,
    revision: row.revision,
    params: JSON.parse(row.params) as Record<string, unknown>,
    steps: JSON.parse(row.steps) as StepRecord[],
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    fencingToken: row.fencing_token,
    cancelRequested: row.cancel_requested === 1,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toResource(row: ResourceRow): ResourceRecord {
  return {
    env: row.env,
    service: row.service,
    kind: row.kind,
    providerId: row.provider_id,
    generation: row.generation,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toEvent(row: EventRow): EventRecord {
  return {
    seq: row.seq,
    time: row.time,
    env: row.env,
    service: row.service,
    operationId: row.operation_id,
    type: row.type,
    message: row.message,
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
  };
}

function toAudit(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    time: row.time,
    actor: row.actor,
    interface: row.interface,
    env: row.env,
    identity: row.identity,
    action: row.action,
    args: JSON.parse(row.args) as Record<string, unknown>,
    result: row.result,
  };
}
