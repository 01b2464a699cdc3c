/**
 * The SQLite schema, as an ordered list of migrations. `PRAGMA user_version` records how many have
 * been applied; `migrate` applies the rest in one IMMEDIATE transaction, so that several processes
 * opening a new file at once cannot both apply the same migration (the loser waits for the lock,
 * then sees the new user_version and has nothing to do).
 *
 * Never edit a migration that has shipped: append a new one.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  /** What it does, for error messages. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'initial schema',
    sql: `
      CREATE TABLE services (
        env TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        current_revision INTEGER,
        last_healthy_revision INTEGER,
        generation INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'deleted')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (env, name)
      );

      -- No foreign key to services: revisions outlive a deleted service (history, restore).
      CREATE TABLE revisions (
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        number INTEGER NOT NULL,
        spec TEXT NOT NULL,
        spec_hash TEXT NOT NULL,
        origin TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (env, service, number)
      );

      CREATE TABLE operations (
        id TEXT PRIMARY KEY,
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('deploy', 'delete', 'rollback', 'repair')),
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
        revision INTEGER,
        params TEXT NOT NULL,
        steps TEXT NOT NULL,
        lease_owner TEXT,
        lease_expires_at INTEGER,
        fencing_token INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
      );
      -- The rule "one active operation per service" lives here, so that it holds however many
      -- processes write at once; createOperation turns the violation into ActiveOperationError.
      CREATE UNIQUE INDEX operations_one_active ON operations (env, service)
        WHERE status IN ('pending', 'running');
      CREATE INDEX operations_by_service ON operations (env, service, created_at);
      CREATE INDEX operations_by_env ON operations (env, created_at);

      CREATE TABLE resources (
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('compute', 'route', 'dns', 'healthcheck')),
        provider_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (env, service, kind, provider_id)
      );

      -- AUTOINCREMENT, not a plain rowid: a seq is never reused, even after the newest rows are
      -- deleted, so a client resuming with afterSeq can never miss or repeat an event.
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        env TEXT NOT NULL,
        service TEXT,
        operation_id TEXT,
        type TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT
      );
      CREATE INDEX events_by_env ON events (env, seq);
      CREATE INDEX events_by_service ON events (env, service, seq);
      CREATE INDEX events_by_operation ON events (operation_id, seq);
      CREATE INDEX events_by_time ON events (time);

      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        interface TEXT NOT NULL CHECK (interface IN ('api', 'direct')),
        env TEXT NOT NULL,
        identity TEXT,
        action TEXT NOT NULL,
        args TEXT NOT NULL,
        result TEXT NOT NULL
      );
      CREATE INDEX audit_by_env ON audit (env, time);
      CREATE INDEX audit_by_time ON audit (time);
    `,
  },
  {
    name: 'leases',
    sql: `
      -- Named time-limited claims (one reconciler per environment). A released lease keeps its row
      -- so that its fencing token keeps increasing across terms.
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT,
        expires_at INTEGER,
        token INTEGER NOT NULL
      );
    `,
  },
];

/** The schema version this build writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database up to SCHEMA_VERSION. Returns how many migrations it applied (0 when the
 * file was already current). Refuses a file written by a newer berth rather than guess at it.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  // The common case, a current file, needs no write lock: the version only ever grows, so a file
  // at this build's version stays current (a newer one is refused below, inside the lock).
  if (db.pragma('user_version', { simple: true }) === migrations.length) return 0;
  const apply = db.transaction((): number => {
    // Read inside the write lock: another process may have migrated while we waited for it.
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new Error(
        `the state file ${db.name} has schema version ${current}, newer than this berth understands ` +
          `(${migrations.length}); upgrade berth`,
      );
    }
    for (let version = current + 1; version <= migrations.length; version++) {
      const migration = migrations[version - 1]!;
      try {
        db.exec(migration.sql);
      } catch (error) {
        throw new Error(`migration ${version} (${migration.name}) failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    // PRAGMA takes no bound parameters; the value is an integer we computed.
    db.pragma(`user_version = ${migrations.length}`);
    return migrations.length - current;
  });
  return apply.immediate();
}
