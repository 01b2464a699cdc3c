import type { Provider } from '../providers/provider.js';
import type { EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import type { ComputeCheckpoint } from './deploy-steps.js';
import type { OperationRecord, ServiceRecord, StateStore } from '../state/store.js';
import {
  computeDrift,
  emptyObservation,
  observeEnvironment,
  observeService,
  type EnvironmentObservation,
  type ResourceView,
} from './drift.js';

/**
 * Failed: never live, and its last deploy failed (its pieces kept with --no-rollback). Unknown is
 * only for what berth cannot know: no fresh observation, or no operation ever finished.
 */
export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Failed' | 'Missing' | 'Unknown';
/** Repairing: a repair operation is active (the reconciler is fixing drift). */
export type SyncStatus = 'InSync' | 'Drifted' | 'Repairing' | 'Unknown';

/** Repairs that keep failing: the newest operations of the service, all failed repairs. */
export interface RepairFailures {
  attempts: number;
  /** When the first of these failed repairs started. */
  since: string;
  lastError: string | null;
}

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
  /** How old that observation was when this status was made. */
  observedAgeMs: number;
  /** Set when the latest operations are failed repairs. */
  repairFailing: RepairFailures | null;
  /** The service's latest operation, when it failed or was cancelled: which step, and why. */
  lastFailure: LastFailure | null;
}

export interface LastFailure {
  operationId: string;
  kind: string;
  revision: number | null;
  status: 'failed' | 'cancelled';
  /** The step that failed; null when it was cancelled between steps. */
  step: string | null;
  /** The step's reason; further lines (log lines) follow the first. */
  error: string;
  finishedAt: string | null;
}

function lastFailureOf(op: OperationRecord | undefined): LastFailure | null {
  if (!op || (op.status !== 'failed' && op.status !== 'cancelled')) return null;
  const step = op.steps.find((s) => s.status === 'failed') ?? op.steps.find((s) => s.status === 'cancelled');
  return {
    operationId: op.id,
    kind: op.kind,
    revision: op.revision,
    status: op.status,
    step: step?.name ?? null,
    error: step?.message ?? op.error ?? op.status,
    finishedAt: op.finishedAt,
  };
}

export interface StatusOptions {
  /** Use this observation (e.g. the reconciler's latest) instead of observing now. */
  observation?: { data: EnvironmentObservation; at: number };
  /** An observation older than this shows as Unknown with its age (the reconciler: 3 resyncs). */
  staleAfterMs?: number;
  now?: number;
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
  options: StatusOptions = {},
): Promise<ServiceStatus[]> {
  const records = (await store.listServices(env.name)).filter((record) => !only || record.name === only);
  // One service: only its own resources are looked at (and a provider may say more of them).
  const observation = options.observation ?? {
    data: only
      ? await observeService(
          provider,
          env.name,
          only,
          (await store.listResources(env.name, only)).map((record) => record.providerId),
        )
      : await observeEnvironment(provider, env.name),
    at: Date.now(),
  };
  const now = options.now ?? Date.now();
  const freshness = {
    observedAt: new Date(observation.at).toISOString(),
    observedAgeMs: Math.max(0, now - observation.at),
    stale: options.staleAfterMs !== undefined && now - observation.at > options.staleAfterMs,
  };
  return Promise.all(
    records.map((record) =>
      serviceStatus(store, provider, env, record, observation.data.get(record.name), freshness),
    ),
  );
}

/** The failed repairs at the head of a service's history (none when the newest is not one). */
export async function repairFailures(
  store: StateStore,
  env: string,
  service: string,
  /** The service's newest operations, newest first, when the caller has read them already. */
  known?: OperationRecord[],
): Promise<RepairFailures | null> {
  const recent = known ?? (await store.listOperations(env, service, 20));
  const failed: OperationRecord[] = [];
  for (const op of recent) {
    if (op.kind !== 'repair' || (op.status !== 'failed' && op.status !== 'cancelled')) break;
    failed.push(op);
  }
  if (failed.length === 0) return null;
  const first = failed[failed.length - 1]!;
  return {
    attempts: failed.length,
    since: first.startedAt ?? first.createdAt,
    lastError: failed[0]!.error,
  };
}

async function serviceStatus(
  store: StateStore,
  provider: Provider,
  env: EnvironmentConfig,
  record: ServiceRecord,
  observed: ReturnType<typeof emptyObservation> | undefined,
  freshness: { observedAt: string; observedAgeMs: number; stale: boolean },
): Promise<ServiceStatus> {
  const active = activeSummary(await store.getActiveOperation(env.name, record.name));
  // One read of the newest operations serves both the last failure and the failing repairs.
  const recent = active ? [] : await store.listOperations(env.name, record.name, 20);
  const latest = recent[0];
  const lastFailure = active ? null : lastFailureOf(latest);
  const base = {
    env: env.name,
    name: record.name,
    revision: record.currentRevision,
    generation: record.generation,
    activeOperation: active,
    observedAt: freshness.observedAt,
    observedAgeMs: freshness.observedAgeMs,
    repairFailing: active ? null : await repairFailures(store, env.name, record.name, recent),
    lastFailure,
  };
  const revision = record.currentRevision
    ? await store.getRevision(env.name, record.name, record.currentRevision)
    : null;
  if (!revision && latest && lastFailure) {
    const failedSpec = latest.params.spec as ServiceSpec | undefined;
    // Never live, and its deploy failed: what it left (kept with --no-rollback) is shown, as Failed.
    const checkpoint = latest.steps.find((s) => s.name === 'ensure compute')?.checkpoint as
      Partial<ComputeCheckpoint> | undefined;
    const generation = checkpoint?.generation ?? record.generation;
    const resources = failedSpec
      ? computeDrift(
          provider,
          env,
          failedSpec,
          generation,
          observed ?? emptyObservation(),
          await store.listResources(env.name, record.name),
        ).filter((view) => view.state !== 'missing')
      : [];
    const where = lastFailure.step ? ` at step "${lastFailure.step}"` : '';
    return {
      ...base,
      replicas: failedSpec?.replicas ?? null,
      health: 'Failed',
      healthDetail: `never live: ${lastFailure.kind} of revision ${lastFailure.revision ?? '?'} ${lastFailure.status}${where}: ${lastFailure.error.split('\n')[0]}`,
      sync: 'Unknown',
      resources,
      urls: [],
    };
  }
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
  const drifted = resources.some(
    (view) => view.state === 'missing' || view.state === 'modified' || view.state === 'orphaned',
  );
  let sync: SyncStatus = active?.kind === 'repair' ? 'Repairing' : drifted ? 'Drifted' : 'InSync';
  if (freshness.stale) {
    // What berth last saw is too old to vouch for: say so, with its age, rather than guess.
    health = 'Unknown';
    sync = 'Unknown';
    healthDetail = `last observed ${Math.round(freshness.observedAgeMs / 1000)}s ago; no fresh observation since`;
  }
  return {
    ...base,
    replicas: revision.spec.replicas,
    health,
    healthDetail,
    sync,
    resources,
    urls: await provider.urls(revision.spec, env),
  };
}
