/**
 * berth's own record: services, revisions, operations, resource inventory, events and audit.
 *
 * Contract (test/state/contract.ts runs it against every implementation):
 * - Writes to a service are guarded by its `version`: `putService(record, expectedVersion)`
 *   succeeds only when the stored version equals `expectedVersion` (null: must not exist), and
 *   throws ConflictError otherwise. The stored version is then expectedVersion + 1 (or 1).
 * - At most one operation per (env, service) is active (status pending or running);
 *   `createOperation` throws ActiveOperationError naming the active one.
 * - `claimOperation` takes the lease when it is free or expired, increments the fencing token,
 *   and returns the claimed record; it returns null when another owner holds an unexpired lease.
 *   A lease is expired once `leaseExpiresAt <= nowMs`. The owner may re-claim its own lease (the
 *   token still increments). A finished (succeeded/failed/cancelled) or unknown operation cannot
 *   be claimed: null. Claiming a pending operation makes it running and sets startedAt.
 *   `saveOperation` succeeds only while the caller's fencing token is the latest (a stale runner
 *   whose lease was taken over gets FencedError and must stop).
 * - Events get a strictly increasing `seq` per store; listing by `afterSeq` resumes a stream.
 * - Times given to the store (event/audit `time`, `since`, `until`) are compared as instants:
 *   the store keeps them in `Date#toISOString()` form, whatever offset the caller wrote.
 * - Leases (`acquireLease`): a named, time-limited claim that at most one owner holds at a time
 *   (e.g. "reconciler/<env>": one reconciler per environment). `acquireLease` succeeds when the
 *   lease is free (never taken, released, or expired: `expiresAt <= nowMs`) or already held by the
 *   same owner, sets `expiresAt = nowMs + ttlMs` and returns the lease; it returns null while
 *   another owner holds an unexpired lease. The fencing `token` starts at 1 and increments on every
 *   acquisition that begins a new term (the lease was free, or held by another owner, or expired);
 *   a renewal by the holder of an unexpired lease keeps its token. `releaseLease` frees the lease
 *   only when `owner` holds it (returning true); the token survives release.
 * - Every method is synchronous-looking async so that networked stores fit the same shape.
 *
 * The decisions and checks behind these rules (claims, leases, fencing, time and limit
 * normalisation, the records and errors a store makes) live once in ./shared/, for every store to
 * apply; a store itself only reads and writes.
 */
import type { ServiceSpec } from '../spec/types.js';
import { UserError } from '../core/errors.js';

export type ResourceKind = 'compute' | 'route' | 'dns' | 'healthcheck';
export const RESOURCE_KINDS: readonly ResourceKind[] = ['compute', 'route', 'dns', 'healthcheck'];

export interface ServiceRecord {
  env: string;
  name: string;
  /** Optimistic-concurrency version; set by the store. */
  version: number;
  /** The revision now meant to run; null before the first successful deploy step records one. */
  currentRevision: number | null;
  /** The newest revision that was seen healthy; rollback-on-failure returns here. */
  lastHealthyRevision: number | null;
  /** The generation of the compute now serving (bumped for each replacement). */
  generation: number;
  /** 'deleted' keeps the record (and its revisions) for restore; it no longer counts as a service. */
  status: 'active' | 'deleted';
  createdAt: string;
  updatedAt: string;
}

export interface RevisionRecord {
  env: string;
  service: string;
  /** 1, 2, 3, ... per (env, service); assigned by the store. */
  number: number;
  spec: ServiceSpec;
  /** A hash of the spec, to tell whether a deploy changes anything. */
  specHash: string;
  /** How it came to be: a deploy, or a rollback that copied revision N. */
  origin: { kind: 'deploy' } | { kind: 'rollback'; from: number };
  createdAt: string;
}

export type OperationKind = 'deploy' | 'delete' | 'rollback' | 'repair';
export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface StepRecord {
  name: string;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  /** Why it is in this state, in words a user understands. */
  message: string | null;
  attempts: number;
  /** Progress saved by a long step so that a resumed run continues where it stopped. */
  checkpoint: unknown;
}

export interface OperationRecord {
  id: string;
  env: string;
  service: string;
  kind: OperationKind;
  status: OperationStatus;
  /** The revision this operation applies (deploy, rollback, repair). */
  revision: number | null;
  /** Operation parameters (e.g. { noRollback: true }). */
  params: Record<string, unknown>;
  steps: StepRecord[];
  leaseOwner: string | null;
  /** Epoch ms. */
  leaseExpiresAt: number | null;
  fencingToken: number;
  cancelRequested: boolean;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface ResourceRecord {
  env: string;
  service: string;
  kind: ResourceKind;
  providerId: string;
  generation: number;
  /** What berth asked for; used to tell drift. */
  attributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface EventRecord {
  seq: number;
  time: string;
  env: string;
  service: string | null;
  operationId: string | null;
  /** e.g. 'operation.started', 'step.succeeded', 'step.failed', 'drift.seen', 'refused'. */
  type: string;
  message: string;
  data: Record<string, unknown> | null;
}

export type NewEvent = Omit<EventRecord, 'seq' | 'time'> & { time?: string };

export interface AuditRecord {
  id: number;
  time: string;
  actor: string;
  interface: 'api' | 'direct';
  env: string;
  identity: string | null;
  action: string;
  args: Record<string, unknown>;
  result: string;
}

/** A named, time-limited claim (see the contract above). */
export interface LeaseRecord {
  name: string;
  /** null once released. */
  owner: string | null;
  /** Epoch ms; the lease is free once this is <= now. null once released. */
  expiresAt: number | null;
  /** Fencing token of the current (or last) term. */
  token: number;
}

export type NewAudit = Omit<AuditRecord, 'id' | 'time'> & { time?: string };

/** What the reconciler reads of one active service at every sweep (see `readEnvironment`). */
export interface ServiceSweepState {
  record: ServiceRecord;
  /** The revision `record.currentRevision` names; null before the first deploy step records one. */
  revision: RevisionRecord | null;
  /** The newest operation of the service (what `listOperations(env, service, 1)` returns). */
  latestOperation: OperationRecord | null;
  /** Its pending or running operation (what `getActiveOperation` returns). */
  activeOperation: OperationRecord | null;
}

export interface EventQuery {
  env?: string;
  service?: string;
  operationId?: string;
  afterSeq?: number;
  /** ISO times, inclusive. */
  since?: string;
  until?: string;
  limit?: number;
  /**
   * With `limit`: keep the newest N (highest seq) instead of the first N, still listed oldest
   * first; the store reads only those, not every event before them.
   */
  newest?: boolean;
}

export interface AuditQuery {
  env?: string;
  /** ISO times, inclusive. */
  since?: string;
  until?: string;
  limit?: number;
}

export class ActiveOperationError extends UserError {
  constructor(readonly active: OperationRecord) {
    super(
      `${active.service} in ${active.env} already has an active ${active.kind} operation (${active.id}, ${active.status})`,
      {
        code: 'operation_active',
        exitCode: 3,
        hint: `wait for it (berth events ${active.service} --env ${active.env} --follow) or cancel it (berth cancel ${active.service} --env ${active.env})`,
      },
    );
    this.name = 'ActiveOperationError';
  }
}

/** A runner's lease was taken over; it must stop writing. */
export class FencedError extends Error {
  constructor(operationId: string) {
    super(`operation ${operationId} was taken over by another runner`);
    this.name = 'FencedError';
  }
}

export interface StateStore {
  // services
  getService(env: string, name: string): Promise<ServiceRecord | null>;
  /** Active services only, sorted by name. */
  listServices(env: string): Promise<ServiceRecord[]>;
  /**
   * Every active service of `env` (sorted by name) with its current revision and its newest and
   * active operations, read in bulk: a few reads for the whole environment instead of a few per
   * service, because the reconciler reads all of it at every sweep. Each part is what the
   * per-service read would return at some moment during the call, except that a store may keep a
   * record it read before while the service's newest operation is the same finished one (berth
   * changes a record only within an operation): DynamoDB does so between full reads, so a record
   * written outside an operation is seen within five minutes. (Inventory is left out: a sweep
   * needs it only for a service whose compute it cannot find, and reads that one's.)
   */
  readEnvironment(env: string): Promise<ServiceSweepState[]>;
  /** Stores createdAt/updatedAt as given; the caller owns them. */
  putService(record: Omit<ServiceRecord, 'version'>, expectedVersion: number | null): Promise<ServiceRecord>;
  /**
   * Removes the service record and its inventory (revisions, operations and events stay for
   * restore/history). ConflictError on a version mismatch; NotFoundError when there is no record.
   */
  deleteService(env: string, name: string, expectedVersion: number): Promise<void>;

  // revisions
  addRevision(input: Omit<RevisionRecord, 'number' | 'createdAt'>): Promise<RevisionRecord>;
  getRevision(env: string, service: string, number: number): Promise<RevisionRecord | null>;
  /** Newest first. */
  listRevisions(env: string, service: string): Promise<RevisionRecord[]>;

  // operations
  createOperation(
    input: Omit<
      OperationRecord,
      | 'leaseOwner'
      | 'leaseExpiresAt'
      | 'fencingToken'
      | 'cancelRequested'
      | 'error'
      | 'startedAt'
      | 'finishedAt'
      | 'createdAt'
    >,
  ): Promise<OperationRecord>;
  getOperation(id: string): Promise<OperationRecord | null>;
  getActiveOperation(env: string, service: string): Promise<OperationRecord | null>;
  /** Newest first. */
  listOperations(env: string, service?: string, limit?: number): Promise<OperationRecord[]>;
  claimOperation(id: string, owner: string, leaseMs: number, nowMs: number): Promise<OperationRecord | null>;
  /**
   * Writes status/steps/error/timestamps/revision/params; extends the lease to nowMs + leaseMs;
   * checks the fencing token (FencedError). A terminal status releases the lease (owner and expiry
   * null). Never writes cancelRequested, so a runner's save cannot undo a concurrent cancel.
   * NotFoundError for an unknown id.
   */
  saveOperation(record: OperationRecord, leaseMs: number, nowMs: number): Promise<void>;
  /** Sets cancelRequested on an active operation (no effect on a finished one); null if unknown. */
  requestCancel(id: string): Promise<OperationRecord | null>;

  // inventory
  /** Insert or update by (env, service, kind, providerId); createdAt is kept on update. */
  putResource(record: Omit<ResourceRecord, 'createdAt' | 'updatedAt'>): Promise<void>;
  deleteResource(env: string, service: string, kind: ResourceKind, providerId: string): Promise<void>;
  listResources(env: string, service?: string): Promise<ResourceRecord[]>;

  // events and audit
  /** `time` defaults to the store's clock. */
  appendEvent(event: NewEvent): Promise<EventRecord>;
  /** Oldest first (ascending seq); filters are ANDed; `limit` keeps the first N (`newest`: the last N). */
  listEvents(query: EventQuery): Promise<EventRecord[]>;
  appendAudit(entry: NewAudit): Promise<AuditRecord>;
  /** Oldest first (ascending id); since/until inclusive. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;

  // leases
  /** Takes or renews the lease; null while another owner holds it unexpired. */
  acquireLease(name: string, owner: string, ttlMs: number, nowMs: number): Promise<LeaseRecord | null>;
  /** Frees the lease when `owner` holds it (true); otherwise changes nothing (false). */
  releaseLease(name: string, owner: string): Promise<boolean>;
  /** The lease as stored, expired or not; null when it was never taken. */
  getLease(name: string): Promise<LeaseRecord | null>;

  close(): Promise<void>;
}
