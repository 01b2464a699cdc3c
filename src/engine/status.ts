import type { Provider } from '../providers/provider.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { OperationRecord, ServiceRecord, StateStore } from '../state/store.js';
import { computeDrift, emptyObservation, observeEnvironment, type ResourceView } from './drift.js';

export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Unknown';
export type SyncStatus = 'InSync' | 'Drifted' | 'Unknown';

export interface ServiceStatus {
  env: string;
  name: string;
  revision: number | null;
  generation: number;
  replicas: number | null;
  health: HealthStatus;
  healthDetail: string;
  sync: SyncStatus;
  resources: ResourceView[];
  activeOperation: { id: string; kind: string; status: string; step: string | null } | null;
  urls: string[];
  /** When the provider was observed for this status. */
  observedAt: string;
}

function activeSummary(op: OperationRecord | null): ServiceStatus['activeOperation'] {
  if (!op) return null;
  const step = op.steps.find((s) => s.status === 'running') ?? op.steps.find((s) => s.status === 'pending');
  return { id: op.id, kind: op.kind, status: op.status, step: step?.name ?? null };
}

/**
 * The health, sync and resources of services in one environment, from one observation of the
 * provider (a list call per resource kind, whatever the number of services).
 */
export async function environmentStatus(
  store: StateStore,
  provider: Provider,
  env: EnvironmentConfig,
  only?: string,
): Promise<ServiceStatus[]> {
  const records = (await store.listServices(env.name)).filter((record) => !only || record.name === only);
  const observation = await observeEnvironment(provider, env.name);
  const observedAt = new Date().toISOString();
  return Promise.all(
    records.map((record) =>
      serviceStatus(store, provider, env, record, observation.get(record.name), observedAt),
    ),
  );
}

async function serviceStatus(
  store: StateStore,
  provider: Provider,
  env: EnvironmentConfig,
  record: ServiceRecord,
  observed: ReturnType<typeof emptyObservation> | undefined,
  observedAt: string,
): Promise<ServiceStatus> {
  const active = activeSummary(await store.getActiveOperation(env.name, record.name));
  const base = {
    env: env.name,
    name: record.name,
    revision: record.currentRevision,
    generation: record.generation,
    activeOperation: active,
    observedAt,
  };
  const revision = record.currentRevision
    ? await store.getRevision(env.name, record.name, record.currentRevision)
    : null;
  if (!revision) {
    return {
      ...base,
      replicas: null,
      health: active ? 'Progressing' : 'Unknown',
      healthDetail: active ? `first ${active.kind} in progress` : 'never deployed successfully',
      sync: 'Unknown',
      resources: [],
      urls: [],
    };
  }
  const inventory = await store.listResources(env.name, record.name);
  const resources = computeDrift(
    provider,
    env,
    revision.spec,
    record.generation,
    observed ?? emptyObservation(),
    inventory,
  );
  const compute = resources.find((view) => view.kind === 'compute' && view.state !== 'orphaned');
  let health: HealthStatus = 'Healthy';
  let healthDetail = compute?.health?.detail ?? '';
  if (!compute || compute.state === 'missing') {
    health = 'Missing';
    healthDetail = 'its compute does not exist';
  } else if (compute.health?.state === 'progressing' || active) {
    health = 'Progressing';
  } else if (compute.health?.state !== 'healthy') {
    health = 'Degraded';
  }
  const drifted = resources.some((view) => view.state === 'missing' || view.state === 'modified');
  return {
    ...base,
    replicas: revision.spec.replicas,
    health,
    healthDetail,
    sync: drifted ? 'Drifted' : 'InSync',
    resources,
    urls: await provider.urls(revision.spec, env),
  };
}
