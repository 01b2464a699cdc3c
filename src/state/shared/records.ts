/**
 * The records both stores write, built from what callers pass in: the store-owned fields get
 * their initial values here, so that a record looks the same whichever store made it.
 */
import type {
  AuditRecord,
  EventRecord,
  NewAudit,
  NewEvent,
  OperationRecord,
  RevisionRecord,
  ServiceRecord,
  StateStore,
} from '../store.js';
import { normalizeTime } from './normalize.js';

/** What `createOperation` takes. */
export type NewOperation = Parameters<StateStore['createOperation']>[0];

/** The ServiceRecord fields of `record` (and no others), for `putService` to store and return. */
export function serviceFields(record: Omit<ServiceRecord, 'version'>): Omit<ServiceRecord, 'version'> {
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

/** Revision `number` of `input`'s service, created at `createdAt`. */
export function newRevision(
  input: Omit<RevisionRecord, 'number' | 'createdAt'>,
  number: number,
  createdAt: string,
): RevisionRecord {
  return {
    env: input.env,
    service: input.service,
    number,
    spec: input.spec,
    specHash: input.specHash,
    origin: input.origin,
    createdAt,
  };
}

/** A new operation: not leased (fencing token 0), not cancelled, not started, created at `createdAt`. */
export function newOperation(input: NewOperation, createdAt: string): OperationRecord {
  return {
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
    createdAt,
    startedAt: null,
    finishedAt: null,
  };
}

/** When an event or audit entry happened: its own `time`, normalised, or else the store's clock now. */
function entryTime(time: string | undefined, what: string, now: () => string): string {
  return time === undefined ? now() : normalizeTime(time, what);
}

/** The event as stored, but for the `seq` the store assigns; `now` gives the store's time. */
export function newEvent(event: NewEvent, now: () => string): Omit<EventRecord, 'seq'> {
  return {
    time: entryTime(event.time, 'event time', now),
    env: event.env,
    service: event.service,
    operationId: event.operationId,
    type: event.type,
    message: event.message,
    data: event.data,
  };
}

/** The audit entry as stored, but for the `id` the store assigns; `now` gives the store's time. */
export function newAudit(entry: NewAudit, now: () => string): Omit<AuditRecord, 'id'> {
  return {
    time: entryTime(entry.time, 'audit time', now),
    actor: entry.actor,
    interface: entry.interface,
    env: entry.env,
    identity: entry.identity,
    action: entry.action,
    args: entry.args,
    result: entry.result,
  };
}
