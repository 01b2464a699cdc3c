/** The bulk read of an environment (`readEnvironment`), put together the same way by every store. */
import type {
  OperationRecord,
  ResourceRecord,
  RevisionRecord,
  ServiceRecord,
  ServiceSweepState,
} from '../store.js';

/**
 * One ServiceSweepState per service in `services` (kept in their order), from the environment's
 * revisions, newest and active operations, and inventory, each read in one go. Rows of services
 * not in `services` (deleted ones) are left out.
 */
export function assembleSweepStates(
  services: ServiceRecord[],
  revisions: RevisionRecord[],
  latest: OperationRecord[],
  active: OperationRecord[],
  resources: ResourceRecord[],
): ServiceSweepState[] {
  const revisionsOf = new Map<string, RevisionRecord[]>();
  for (const revision of revisions) {
    revisionsOf.set(revision.service, [...(revisionsOf.get(revision.service) ?? []), revision]);
  }
  const latestOf = new Map(latest.map((op) => [op.service, op]));
  const activeOf = new Map(active.map((op) => [op.service, op]));
  const resourcesOf = new Map<string, ResourceRecord[]>();
  for (const resource of resources) {
    let list = resourcesOf.get(resource.service);
    if (!list) resourcesOf.set(resource.service, (list = []));
    list.push(resource);
  }
  return services.map((record) => ({
    record,
    revision: revisionsOf.get(record.name)?.find((r) => r.number === record.currentRevision) ?? null,
    latestOperation: latestOf.get(record.name) ?? null,
    activeOperation: activeOf.get(record.name) ?? null,
    resources: resourcesOf.get(record.name) ?? [],
  }));
}
