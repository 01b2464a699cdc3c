import type { Provider } from '../providers/provider.js';
import type { EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import { RESOURCE_KINDS, type ResourceKind, type StateStore } from '../state/store.js';
import { generationOf } from './deploy-steps.js';

export interface PlanChange {
  kind: ResourceKind;
  action: 'create' | 'replace' | 'update' | 'remove' | 'unchanged';
  name: string;
  providerId: string | null;
  /** The fields that differ, with the values wanted and found. */
  reason: string;
  /** Where the resource lives or will live, when the provider spreads them (a route's load balancer). */
  location?: string;
}

/**
 * An env change by variable name only: plans end up in CI logs and before viewers, and a value
 * may be something its owner thought private.
 */
function envChange(observed: unknown, desired: unknown): string {
  const was = (observed ?? {}) as Record<string, unknown>;
  const wants = (desired ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  const added = Object.keys(wants).filter((key) => !Object.hasOwn(was, key));
  const removed = Object.keys(was).filter((key) => !Object.hasOwn(wants, key));
  const changed = Object.keys(wants).filter((key) => Object.hasOwn(was, key) && was[key] !== wants[key]);
  if (added.length) parts.push(`adds ${added.join(', ')}`);
  if (changed.length) parts.push(`changes ${changed.join(', ')}`);
  if (removed.length) parts.push(`removes ${removed.join(', ')}`);
  return parts.join(', ') || 'differs';
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text && text.length > 60 ? `${text.slice(0, 57)}...` : String(text);
}

/** What a deploy of `spec` would change, without changing anything. */
export async function planDeploy(
  store: StateStore,
  provider: Provider,
  env: EnvironmentConfig,
  spec: ServiceSpec,
): Promise<PlanChange[]> {
  const scope = { env: env.name, service: spec.name };
  const record = await store.getService(env.name, spec.name);
  const inventory = await store.listResources(env.name, spec.name);
  const changes: PlanChange[] = [];
  const computes = await provider.drivers.compute.observeAll(scope);
  const serving = computes.find((c) => generationOf(c) === record?.generation) ?? computes[0];
  const generation = serving ? generationOf(serving) : (record?.generation ?? 0) + 1;

  for (const kind of RESOURCE_KINDS) {
    const driver = provider.drivers[kind];
    const known = inventory.filter((r) => r.kind === kind).map((r) => r.providerId);
    const observed =
      kind === 'compute' ? (serving ? [serving] : []) : await driver.observeAll({ ...scope, known });
    const desired = provider.desired(kind, { env, spec, generation, computeId: serving?.providerId });
    const claimed = new Set<string>();
    for (const want of desired) {
      const have = observed.find((o) => o.key === want.key && !claimed.has(o.providerId));
      if (!have) {
        changes.push({
          kind,
          action: 'create',
          name: want.key,
          providerId: null,
          reason: 'does not exist',
          ...(want.location ? { location: want.location } : {}),
        });
        continue;
      }
      claimed.add(have.providerId);
      const drift = driver.diff(want, have);
      const replace = kind === 'compute' && drift.some((d) => d.field !== 'replicas');
      changes.push({
        kind,
        action: drift.length === 0 ? 'unchanged' : replace ? 'replace' : 'update',
        name: have.name,
        providerId: have.providerId,
        reason: drift.length
          ? drift
              .map((d) =>
                d.field === 'env'
                  ? `env: ${envChange(d.observed, d.desired)}`
                  : `${d.field}: ${show(d.observed)} -> ${show(d.desired)}`,
              )
              .join('; ')
          : 'matches',
        ...((have.location ?? want.location) ? { location: have.location ?? want.location } : {}),
      });
    }
    const extras = kind === 'compute' ? computes.filter((c) => c !== serving) : observed;
    for (const extra of extras.filter((o) => !claimed.has(o.providerId))) {
      changes.push({
        kind,
        action: 'remove',
        name: extra.name,
        providerId: extra.providerId,
        reason: 'not desired',
      });
    }
  }
  return changes;
}
