import { TransientError } from '../core/errors.js';
import { RESOURCE_KINDS, type OperationRecord, type ResourceKind } from '../state/store.js';
import { verifyIdentity, type ServiceContext } from './context.js';
import { DRAIN_RETRY, type StepDefinition } from './steps.js';

/** Delete removes what depends on the others first: nothing points at a removed piece. */
const REMOVAL_ORDER: { kind: ResourceKind; step: string }[] = [
  { kind: 'healthcheck', step: 'remove health check' },
  { kind: 'dns', step: 'remove dns' },
  { kind: 'route', step: 'remove route' },
  { kind: 'compute', step: 'remove compute' },
];

export const DELETE_STEP_NAMES = [
  'check identity',
  ...REMOVAL_ORDER.map((entry) => entry.step),
  'verify nothing left',
  'remove record',
];

export interface PlannedRemoval {
  kind: ResourceKind;
  providerId: string;
  name: string;
  /** Found by tag in the provider, in berth's inventory, or both. */
  source: 'provider' | 'inventory' | 'both';
}

/**
 * Everything delete would remove: what the provider has tagged for the service, plus whatever
 * berth's inventory remembers (even if its tags were changed behind berth's back).
 */
export async function plannedRemovals(
  context: ServiceContext,
  kinds = RESOURCE_KINDS,
): Promise<PlannedRemoval[]> {
  const { provider, store, env, service } = context;
  const inventory = await store.listResources(env.name, service);
  const result: PlannedRemoval[] = [];
  for (const kind of kinds) {
    const known = inventory.filter((record) => record.kind === kind);
    const observed = await provider.drivers[kind].observeAll({
      env: env.name,
      service,
      known: known.map((record) => record.providerId),
    });
    for (const item of observed) {
      const inInventory = known.some((record) => record.providerId === item.providerId);
      result.push({
        kind,
        providerId: item.providerId,
        name: item.name,
        source: inInventory ? 'both' : 'provider',
      });
    }
    for (const record of known) {
      if (observed.some((item) => item.providerId === record.providerId)) continue;
      result.push({ kind, providerId: record.providerId, name: record.providerId, source: 'inventory' });
    }
  }
  return result;
}

/** What a finished delete removed, by kind: "compute svc-1 (hello-local-g1); dns dns-2 (...)". */
export function describeRemovals(operation: OperationRecord): string {
  const removed = REMOVAL_ORDER.map(({ kind, step }) => {
    const message = operation.steps.find(
      (record) => record.name === step && record.status === 'succeeded',
    )?.message;
    return message?.startsWith('removed ') ? `${kind} ${message.slice('removed '.length)}` : null;
  }).filter((part): part is string => part !== null);
  return removed.length ? removed.join('; ') : 'nothing was left to remove';
}

/**
 * The steps of delete. Each removes what exists and counts what is already gone as done, so
 * delete succeeds from any state; berth's own record goes last, so an interrupted delete can
 * always be run again.
 */
export function deleteSteps(context: ServiceContext): StepDefinition[] {
  const { provider, store, env, service } = context;
  const removals: StepDefinition[] = REMOVAL_ORDER.map(({ kind, step }) => ({
    name: step,
    deadlineMs: 30_000,
    ...(kind === 'compute' ? { retry: DRAIN_RETRY } : {}),
    async run() {
      const planned = await plannedRemovals(context, [kind]);
      const done: string[] = [];
      for (const item of planned) {
        const outcome = await provider.drivers[kind].delete(item.providerId);
        await store.deleteResource(env.name, service, kind, item.providerId);
        done.push(
          `${item.providerId} (${item.name})${outcome === 'already-gone' ? ' was already gone' : ''}`,
        );
      }
      return done.length ? `removed ${done.join(', ')}` : 'nothing to remove';
    },
  }));

  return [
    { name: 'check identity', deadlineMs: 10_000, run: () => verifyIdentity(context) },
    ...removals,
    {
      name: 'verify nothing left',
      deadlineMs: 30_000,
      async run() {
        // Whatever appeared since the removal steps ran (a concurrent writer) is removed too.
        for (const item of await plannedRemovals(context)) {
          await provider.drivers[item.kind].delete(item.providerId);
        }
        const left = (await plannedRemovals(context)).filter((item) => item.source !== 'inventory');
        if (left.length > 0) {
          // Something re-appeared (a concurrent writer, a slow provider): retried with backoff.
          throw new TransientError(
            `still present: ${left.map((item) => `${item.kind} ${item.providerId}`).join(', ')}`,
          );
        }
        return `nothing tagged for ${service} in ${env.name} is left`;
      },
    },
    {
      name: 'remove record',
      deadlineMs: 10_000,
      async run() {
        for (const record of await store.listResources(env.name, service)) {
          await store.deleteResource(env.name, service, record.kind, record.providerId);
        }
        const current = await store.getService(env.name, service);
        if (!current) return 'berth had no record of it';
        await store.deleteService(env.name, service, current.version);
        return `removed berth's record (revisions kept for history)`;
      },
    },
  ];
}
