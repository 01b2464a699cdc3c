import { TAG_SERVICE } from '../core/tags.js';
import type { DriftField, ObservedResource, Provider, ResourceHealth } from '../providers/provider.js';
import { RESOURCE_KINDS, type ResourceKind, type ResourceRecord } from '../state/store.js';
import type { EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import { generationOf } from './deploy-steps.js';

export type ResourceState = 'ok' | 'missing' | 'modified' | 'unhealthy' | 'orphaned';

/** One resource as berth sees it: what it wants, what exists, and how they differ. */
export interface ResourceView {
  kind: ResourceKind;
  key: string;
  providerId: string | null;
  name: string;
  state: ResourceState;
  drift: DriftField[];
  health: ResourceHealth | null;
}

/** What exists of every kind in an environment, by service: one list call per kind. */
export type EnvironmentObservation = Map<string, Record<ResourceKind, ObservedResource[]>>;

export async function observeEnvironment(provider: Provider, env: string): Promise<EnvironmentObservation> {
  const byService: EnvironmentObservation = new Map();
  const lists = await Promise.all(RESOURCE_KINDS.map((kind) => provider.drivers[kind].observeAll({ env })));
  RESOURCE_KINDS.forEach((kind, index) => {
    for (const resource of lists[index]!) {
      const service = resource.tags[TAG_SERVICE] ?? '';
      let entry = byService.get(service);
      if (!entry) {
        entry = { compute: [], route: [], dns: [], healthcheck: [] };
        byService.set(service, entry);
      }
      entry[kind].push(resource);
    }
  });
  return byService;
}

/**
 * What exists for one service (its resources found by tag, name or the ids berth recorded), at a
 * cost that does not grow with the environment; providers may add per-item detail a sweep leaves
 * out (on AWS what Route 53's checkers report).
 */
export async function observeService(
  provider: Provider,
  env: string,
  service: string,
  known: string[] = [],
): Promise<EnvironmentObservation> {
  const entry = emptyObservation();
  const lists = await Promise.all(
    RESOURCE_KINDS.map((kind) => provider.drivers[kind].observeAll({ env, service, known })),
  );
  RESOURCE_KINDS.forEach((kind, index) => {
    for (const resource of lists[index]!) {
      if ((resource.tags[TAG_SERVICE] ?? '') === service) entry[kind].push(resource);
    }
  });
  return new Map([[service, entry]]);
}

export function emptyObservation(): Record<ResourceKind, ObservedResource[]> {
  return { compute: [], route: [], dns: [], healthcheck: [] };
}

/**
 * Compares what a service's revision wants with what exists. The compute of the recorded
 * generation is the one that should serve; any other resource tagged for the service is orphaned.
 */
export function computeDrift(
  provider: Provider,
  env: EnvironmentConfig,
  spec: ServiceSpec,
  generation: number,
  observed: Record<ResourceKind, ObservedResource[]>,
  inventory: ResourceRecord[],
): ResourceView[] {
  const views: ResourceView[] = [];
  const serving =
    observed.compute.find((c) => generationOf(c) === generation) ??
    observed.compute.find((c) =>
      inventory.some((r) => r.kind === 'compute' && r.providerId === c.providerId),
    );
  for (const kind of RESOURCE_KINDS) {
    const desired = provider.desired(kind, { env, spec, generation, computeId: serving?.providerId });
    const claimed = new Set<string>();
    for (const want of desired) {
      const have =
        kind === 'compute'
          ? serving
          : observed[kind].find((o) => o.key === want.key && !claimed.has(o.providerId));
      if (!have) {
        views.push({
          kind,
          key: want.key,
          providerId: null,
          name: want.key,
          state: 'missing',
          drift: [],
          health: null,
        });
        continue;
      }
      claimed.add(have.providerId);
      const drift = provider.drivers[kind]
        .diff(want, have)
        .filter((d) => !(kind === 'compute' && d.field === 'name'));
      const unhealthy = have.health?.state === 'unhealthy';
      views.push({
        kind,
        key: want.key,
        providerId: have.providerId,
        name: have.name,
        state: drift.length ? 'modified' : unhealthy ? 'unhealthy' : 'ok',
        drift,
        health: have.health ?? null,
      });
    }
    for (const extra of observed[kind].filter((o) => !claimed.has(o.providerId))) {
      views.push({
        kind,
        key: extra.key,
        providerId: extra.providerId,
        name: extra.name,
        state: 'orphaned',
        drift: [],
        health: extra.health ?? null,
      });
    }
  }
  return views;
}
