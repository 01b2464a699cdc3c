/**
 * The operation lifecycle rules both stores apply (see the contract in ../store.ts): which
 * statuses are finished, what a claim changes, what a save does to the lease, and when a save is
 * fenced off. The stores only read and write; the decisions are made here.
 */
import { isoTime } from '../../core/clock.js';
import { FencedError, type OperationRecord, type OperationStatus } from '../store.js';
import { operationNotFound } from './errors.js';
import { isLeaseLive } from './leases.js';

const TERMINAL: ReadonlySet<OperationStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** Finished (succeeded, failed, cancelled): no longer active, cannot be claimed, holds no lease. */
export function isTerminal(status: OperationStatus): boolean {
  return TERMINAL.has(status);
}

/**
 * The operation as `claimOperation` leaves it when `owner` claims `current` at `nowMs`, or null
 * when it cannot: it is finished, or another owner holds an unexpired lease on it. A claim makes
 * a pending operation running, sets startedAt once, and leases it until `nowMs + leaseMs`.
 */
export function claimedOperation(
  current: OperationRecord,
  owner: string,
  leaseMs: number,
  nowMs: number,
): OperationRecord | null {
  if (isTerminal(current.status)) return null;
  const heldByAnother =
    isLeaseLive(current.leaseOwner, current.leaseExpiresAt, nowMs) && current.leaseOwner !== owner;
  if (heldByAnother) return null;
  return {
    ...current,
    status: current.status === 'pending' ? 'running' : current.status,
    startedAt: current.startedAt ?? isoTime(nowMs),
    leaseOwner: owner,
    leaseExpiresAt: nowMs + leaseMs,
    // A new token on every claim, even a re-claim by the same owner: whatever ran under the
    // old token (say, this owner before a restart) is fenced off.
    fencingToken: current.fencingToken + 1,
  };
}

/**
 * What `saveOperation` writes of `record`: status, steps, revision, error, timestamps and params
 * (steps and params JSON-encoded, as both stores keep them), and the lease: an unfinished
 * operation keeps its owner (not written) and its lease is extended to `nowMs + leaseMs`; a
 * finished one holds no lease (owner and expiry null). Never cancelRequested, so that a runner's
 * save cannot undo a concurrent cancel.
 */
export function savedOperationFields(record: OperationRecord, leaseMs: number, nowMs: number) {
  const terminal = isTerminal(record.status);
  return {
    status: record.status,
    steps: JSON.stringify(record.steps),
    revision: record.revision,
    error: record.error,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    params: JSON.stringify(record.params),
    ...(terminal ? { leaseOwner: null, leaseExpiresAt: null } : { leaseExpiresAt: nowMs + leaseMs }),
  };
}

/**
 * The fencing check of `saveOperation`: returns only while `record` carries the latest token, that
 * of the `stored` operation. NotFoundError when nothing is stored; FencedError for a runner whose
 * lease was taken over.
 */
export function checkNotFenced<Stored extends Pick<OperationRecord, 'fencingToken'>>(
  record: Pick<OperationRecord, 'id' | 'fencingToken'>,
  stored: Stored | null,
): asserts stored is Stored {
  if (stored === null) throw operationNotFound(record.id);
  if (stored.fencingToken !== record.fencingToken) throw new FencedError(record.id);
}
