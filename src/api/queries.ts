/**
 * Read models shared by the API routes and the CLI's direct mode, so that both answer the same
 * (and fail the same way) for history and events. No HTTP here.
 */
import { NotFoundError } from '../core/errors.js';
import type {
  EventRecord,
  OperationRecord,
  RevisionRecord,
  ServiceRecord,
  StateStore,
} from '../state/store.js';

export interface ServiceHistory {
  service: ServiceRecord | null;
  revisions: RevisionRecord[];
  operations: OperationRecord[];
}

async function unknownService(store: StateStore, env: string, service: string): Promise<never> {
  const names = (await store.listServices(env)).map((s) => s.name);
  throw new NotFoundError(`there is no service "${service}" in ${env}`, {
    hint: names.length ? `services in ${env}: ${names.join(', ')}` : `${env} has no services yet`,
  });
}

/** Revisions and the last 50 operations, newest first; NotFound when berth never knew the service. */
export async function serviceHistory(
  store: StateStore,
  env: string,
  service: string,
): Promise<ServiceHistory> {
  const [record, revisions, operations] = await Promise.all([
    store.getService(env, service),
    store.listRevisions(env, service),
    store.listOperations(env, service, 50),
  ]);
  if (!record && revisions.length === 0 && operations.length === 0) await unknownService(store, env, service);
  return { service: record, revisions, operations };
}

/** The last `limit` events of a service, oldest first; NotFound when it has none and no record. */
export async function serviceEvents(
  store: StateStore,
  env: string,
  service: string,
  limit: number,
): Promise<EventRecord[]> {
  const events = await store.listEvents({ env, service, limit, newest: true });
  if (events.length === 0 && !(await store.getService(env, service)))
    await unknownService(store, env, service);
  return events;
}
