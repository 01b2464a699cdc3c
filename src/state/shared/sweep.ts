/** The bulk read of an environment (`readEnvironment`), put together the same way by every store. */
import type { OperationRecord, RevisionRecord, ServiceRecord, ServiceSweepState } from '../store.js';

/**
 * One ServiceSweepState per service in `services` (kept in their order), from the environment's
 * revisions and newest and active operations, each read in one go. Rows of services not in
 * `services` (deleted ones) are left out.
 */
export function assembleSweepStates(
  services: ServiceRecord[],
  revisions: RevisionRecord[],
  latest: OperationRecord[],
  active: OperationRecord[],
): ServiceSweepState[] {
  const revisionsOf = new Map<string, RevisionRecord[]>();
  for (const revision of revisions) {
    revisionsOf.set(revision.service, [...(revisionsOf.get(revision.service) ?? []), revision]);
  }
  const latestOf = new Map(latest.map((op) => [op.service, op]));
  const activeOf = new Map(active.map((op) => [op.service, op]));
  return services.map((record) => ({
    record,
    revision: revisionsOf.get(record.name)?.find((r) => r.number === record.currentRevision) ?? null,
    latestOperation: latestOf.get(record.name) ?? null,
    activeOperation: activeOf.get(record.name) ?? null,
  }));
}
