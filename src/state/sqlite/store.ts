import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

import { ConflictError, NotFoundError } from '../../core/errors.js';
import { isoTime, systemClock, type Clock } from '../../core/clock.js';
import type { ServiceSpec } from '../../spec/types.js';
import {
  ActiveOperationError,
  FencedError,
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
  type StateStore,
  type StepRecord,
} from '../store.js';
import { migrate } from './migrations.js';

/** Where the SQLite state lives inside a data dir. */
export function defaultStatePath(dataDir: string): string {
  return path.join(dataDir, 'state.db');
}

export interface SqliteStateStoreOptions {
  /** Source of the store's own timestamps (createdAt, event and audit times). */
  clock?: Clock;
}

const TERMINAL: ReadonlySet<OperationStatus> = new Set(['succeeded', 'failed', 'cancelled']);

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

  async putService(
    record: Omit<ServiceRecord, 'version'>,
    expectedVersion: number | null,
  ): Promise<ServiceRecord> {
    return this.immediate(() => {
      const actual = this.serviceVersion(record.env, record.name);
      if (actual !== expectedVersion) throw serviceConflict(record.env, record.name, expectedVersion, actual);
      const version = (expectedVersion ?? 0) + 1;
      this.stmt(
        `INSERT INTO services (env, name, version, current_revision, last_healthy_revision, generation,
           status, created_at, updated_at)
         VALUES (@env, @name, @version, @currentRevision, @lastHealthyRevision, @generation,
           @status, @createdAt, @updatedAt)
         ON CONFLICT (env, name) DO UPDATE SET
           version = excluded.version, current_revision = excluded.current_revision,
           last_healthy_revision = excluded.last_healthy_revision, generation = excluded.generation,
           status = excluded.status, created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ).run({
        env: record.env,
        name: record.name,
        version,
        currentRevision: record.currentRevision,
        lastHealthyRevision: record.lastHealthyRevision,
        generation: record.generation,
        status: record.status,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
      });
      return { ...pickService(record), version };
    });
  }

  async deleteService(env: string, name: string, expectedVersion: number): Promise<void> {
    this.immediate(() => {
      const actual = this.serviceVersion(env, name);
      if (actual === null) throw new NotFoundError(`service ${name} does not exist in ${env}`);
      if (actual !== expectedVersion) throw serviceConflict(env, name, expectedVersion, actual);
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
      const revision: RevisionRecord = {
        env: input.env,
        service: input.service,
        number: (last ?? 0) + 1,
        spec: input.spec,
        specHash: input.specHash,
        origin: input.origin,
        createdAt: this.nowIso(),
      };
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

  async createOperation(input: Parameters<StateStore['createOperation']>[0]): Promise<OperationRecord> {
    return this.immediate(() => {
      const record: OperationRecord = {
        id: input.id,
        env: input.env,
        service: input.service,
        kind: input.kind,
        status: input.status,
        revision: input.revision,
        params: input.params,
        steps: input.steps,
        leaseOwner: null,
        leaseExpiresAt: null,
        fencingToken: 0,
        cancelRequested: false,
        error: null,
        createdAt: this.nowIso(),
        startedAt: null,
        finishedAt: null,
      };
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
        if (this.operationRow(record.id)) throw new ConflictError(`operation ${record.id} already exists`);
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
    const where = service === undefined ? 'env = ?' : 'env = ? AND service = ?';
    const args: unknown[] = service === undefined ? [env] : [env, service];
    // rowid breaks ties between operations created in the same millisecond.
    let sql = `SELECT * FROM operations WHERE ${where} ORDER BY created_at DESC, rowid DESC`;
    if (limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(normalizeLimit(limit));
    }
    return (this.stmt(sql).all(...args) as OperationRow[]).map(toOperation);
  }

  async claimOperation(
    id: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
  ): Promise<OperationRecord | null> {
    return this.immediate(() => {
      const row = this.operationRow(id);
      if (!row) return null;
      const current = toOperation(row);
      if (TERMINAL.has(current.status)) return null;
      const held =
        current.leaseOwner !== null &&
        current.leaseOwner !== owner &&
        current.leaseExpiresAt !== null &&
        current.leaseExpiresAt > nowMs;
      if (held) return null;
      const claimed: OperationRecord = {
        ...current,
        status: current.status === 'pending' ? 'running' : current.status,
        startedAt: current.startedAt ?? isoTime(nowMs),
        leaseOwner: owner,
        leaseExpiresAt: nowMs + leaseMs,
        // A new token on every claim, even a re-claim by the same owner: whatever ran under the
        // old token (say, this owner before a restart) is fenced off.
        fencingToken: current.fencingToken + 1,
      };
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
      if (!row) throw new NotFoundError(`operation ${record.id} does not exist`);
      if (row.fencing_token !== record.fencingToken) throw new FencedError(record.id);
      const terminal = TERMINAL.has(record.status);
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
        status: record.status,
        steps: JSON.stringify(record.steps),
        revision: record.revision,
        error: record.error,
        startedAt: record.startedAt,
        finishedAt: record.finishedAt,
        params: JSON.stringify(record.params),
        // A finished operation holds no lease; an unfinished one keeps its owner's lease alive.
        leaseOwner: terminal ? null : row.lease_owner,
        leaseExpiresAt: terminal ? null : nowMs + leaseMs,
      });
    });
  }

  async requestCancel(id: string): Promise<OperationRecord | null> {
    return this.immediate(() => {
      this.stmt(
        "UPDATE operations SET cancel_requested = 1 WHERE id = ? AND status IN ('pending', 'running')",
      ).run(id);
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
    const rows = (
      service === undefined
        ? this.stmt('SELECT * FROM resources WHERE env = ? ORDER BY service, kind, provider_id').all(env)
        : this.stmt(
            'SELECT * FROM resources WHERE env = ? AND service = ? ORDER BY service, kind, provider_id',
          ).all(env, service)
    ) as ResourceRow[];
    return rows.map(toResource);
  }

  // events and audit

  async appendEvent(event: NewEvent): Promise<EventRecord> {
    const record: Omit<EventRecord, 'seq'> = {
      time: event.time === undefined ? this.nowIso() : normalizeTime(event.time, 'event time'),
      env: event.env,
      service: event.service,
      operationId: event.operationId,
      type: event.type,
      message: event.message,
      data: event.data,
    };
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
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      args.push(value);
    };
    if (query.env !== undefined) add('env = ?', query.env);
    if (query.service !== undefined) add('service = ?', query.service);
    if (query.operationId !== undefined) add('operation_id = ?', query.operationId);
    if (query.afterSeq !== undefined) add('seq > ?', query.afterSeq);
    if (query.since !== undefined) add('time >= ?', normalizeTime(query.since, 'since'));
    if (query.until !== undefined) add('time <= ?', normalizeTime(query.until, 'until'));
    let sql = 'SELECT * FROM events';
    if (where.length > 0) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ' ORDER BY seq';
    if (query.limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(normalizeLimit(query.limit));
    }
    return (this.stmt(sql).all(...args) as EventRow[]).map(toEvent);
  }

  async appendAudit(entry: NewAudit): Promise<AuditRecord> {
    const record: Omit<AuditRecord, 'id'> = {
      time: entry.time === undefined ? this.nowIso() : normalizeTime(entry.time, 'audit time'),
      actor: entry.actor,
      interface: entry.interface,
      env: entry.env,
      identity: entry.identity,
      action: entry.action,
      args: entry.args,
      result: entry.result,
    };
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

  async listAudit(query: {
    env?: string;
    since?: string;
    until?: string;
    limit?: number;
  }): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.env !== undefined) {
      where.push('env = ?');
      args.push(query.env);
    }
    if (query.since !== undefined) {
      where.push('time >= ?');
      args.push(normalizeTime(query.since, 'since'));
    }
    if (query.until !== undefined) {
      where.push('time <= ?');
      args.push(normalizeTime(query.until, 'until'));
    }
    let sql = 'SELECT * FROM audit';
    if (where.length > 0) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ' ORDER BY id';
    if (query.limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(normalizeLimit(query.limit));
    }
    return (this.stmt(sql).all(...args) as AuditRow[]).map(toAudit);
  }

  // leases

  async acquireLease(name: string, owner: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null> {
    return this.immediate(() => {
      const row = this.leaseRow(name);
      const live =
        row !== undefined && row.owner !== null && row.expires_at !== null && row.expires_at > nowMs;
      if (live && row.owner !== owner) return null;
      // A renewal by the live holder keeps its term; anything else starts a new one.
      const token = live ? row.token : (row?.token ?? 0) + 1;
      const lease: LeaseRecord = { name, owner, expiresAt: nowMs + ttlMs, token };
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
    return row ? { name: row.name, owner: row.owner, expiresAt: row.expires_at, token: row.token } : null;
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
    const row = this.stmt(
      "SELECT * FROM operations WHERE env = ? AND service = ? AND status IN ('pending', 'running')",
    ).get(env, service) as OperationRow | undefined;
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

function serviceConflict(
  env: string,
  name: string,
  expected: number | null,
  actual: number | null,
): ConflictError {
  const what =
    expected === null
      ? `already exists (version ${actual})`
      : actual === null
        ? `no longer exists (expected version ${expected})`
        : `was changed by someone else (expected version ${expected}, found version ${actual})`;
  return new ConflictError(`service ${name} in ${env} ${what}`, {
    hint: 'read it again and retry; another deploy or command wrote it first',
  });
}

/**
 * Stored times are all `toISOString()` form, so that SQL string comparison orders them as
 * instants; an input with an offset ('...+02:00') is converted, not compared as text.
 */
function normalizeTime(value: string, what: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`${what} is not an ISO time: ${JSON.stringify(value)}`);
  return isoTime(ms);
}

/** SQLite reads a negative LIMIT as "no limit"; a negative limit is a caller bug, so it yields nothing. */
function normalizeLimit(limit: number): number {
  return Math.max(0, Math.floor(limit));
}

function pickService(record: Omit<ServiceRecord, 'version'>): Omit<ServiceRecord, 'version'> {
  return {
    env: record.env,
    name: record.name,
    currentRevision: record.currentRevision,
    lastHealthyRevision: record.lastHealthyRevision,
    generation: record.generation,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
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
