import { UserError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { EventRecord, NewEvent, OperationRecord, StateStore } from '../state/store.js';
import type { ServiceSpec } from '../spec/types.js';
import type { ServiceContext } from './context.js';
import { DEPLOY_STEP_NAMES, deploySteps, type DeployOptions } from './deploy-steps.js';
import type { ResourceView } from './drift.js';
import { pendingSteps, type StepDefinition } from './steps.js';

/** A repair's steps have the deploy's names, so history reads the same for both. */
export const REPAIR_STEP_NAMES = [...DEPLOY_STEP_NAMES];

export interface RepairRequest {
  /** What the reconciler saw drift in; recorded on the operation and in its events. */
  drift?: ResourceView[];
  /** When the oldest of that drift was first seen (ISO). */
  firstSeenAt?: string;
  /** How long re-created replicas may take to become healthy. Default 60 s. */
  healthDeadlineMs?: number;
}

/** One drifted resource, as recorded in events and operation params. */
export interface DriftItem {
  kind: string;
  key: string;
  providerId: string | null;
  state: string;
  fields: { field: string; desired: unknown; observed: unknown }[];
}

export function driftItems(views: ResourceView[]): DriftItem[] {
  return views.map((view) => ({
    kind: view.kind,
    key: view.key,
    providerId: view.providerId,
    state: view.state,
    fields: view.drift,
  }));
}

/** "route hello.local.localhost modified (serviceId); dns hello.local.localhost missing". */
export function describeDrift(items: DriftItem[]): string {
  return items
    .map((item) => {
      const id = item.providerId ?? item.key;
      const what = id === item.kind ? item.kind : `${item.kind} ${id}`;
      const names = item.fields.map((f) => f.field);
      const fields = names.length
        ? ` (${names.join(', ')} ${names.length === 1 ? 'differs' : 'differ'})`
        : '';
      return `${what} ${item.state}${fields}`;
    })
    .join('; ');
}

/**
 * The steps of a repair: the deploy's steps for the current revision (each converges only what
 * differs, so only what drifted is touched), except that the first step checks that the service
 * still wants this revision: a repair queued just before a delete or a new deploy must not
 * re-create what they removed or replaced.
 */
export function repairSteps(
  context: ServiceContext,
  spec: ServiceSpec,
  options: DeployOptions,
): StepDefinition[] {
  const { store, env, service } = context;
  return deploySteps(context, spec, options).map((step) =>
    step.name !== 'validate'
      ? step
      : {
          name: 'validate',
          deadlineMs: 5_000,
          async run(stepContext) {
            const record = await store.getService(env.name, service);
            const revision = stepContext.operation.revision;
            if (!record || record.status !== 'active') {
              throw new UserError(`${service} no longer exists in ${env.name}: nothing to repair`);
            }
            if (record.currentRevision !== revision) {
              throw new UserError(
                `${service} now wants revision ${record.currentRevision ?? 'none'}, not ${revision}: this repair is obsolete`,
              );
            }
            return step.run(stepContext);
          },
        },
  );
}

export interface RepairDeps {
  store: StateStore;
  clock: Clock;
  env: string;
  service: string;
  emit(event: NewEvent): Promise<EventRecord>;
  run(operation: OperationRecord): Promise<OperationRecord>;
}

/**
 * Converges one service on its current revision. Refuses (ActiveOperationError, from the store)
 * when any operation is active: a repair never runs beside another operation.
 */
export async function runRepair(
  deps: RepairDeps,
  request: RepairRequest,
  defaultHealthDeadlineMs: number,
): Promise<OperationRecord> {
  const { store, env, service } = deps;
  const record = await store.getService(env, service);
  const revision =
    record?.status === 'active' && record.currentRevision
      ? await store.getRevision(env, service, record.currentRevision)
      : null;
  if (!revision) {
    throw new UserError(`${service} in ${env} has no deployed revision to repair`, {
      hint: `deploy it first: berth deploy PATH --env ${env}`,
    });
  }
  const items = driftItems(request.drift ?? []);
  const operation = await store.createOperation({
    id: newId('op'),
    env,
    service,
    kind: 'repair',
    status: 'pending',
    revision: revision.number,
    params: {
      spec: revision.spec,
      healthDeadlineMs: request.healthDeadlineMs ?? defaultHealthDeadlineMs,
      drift: items,
      firstSeenAt: request.firstSeenAt ?? null,
    },
    steps: pendingSteps(REPAIR_STEP_NAMES),
  });
  const startedAt = deps.clock.now();
  const described = items.length ? describeDrift(items) : 'whatever differs';
  await deps.emit({
    env,
    service,
    operationId: operation.id,
    type: 'drift.repair.started',
    message: `repairing ${described}`,
    data: { items, firstSeenAt: request.firstSeenAt ?? null, revision: revision.number },
  });
  const finished = await deps.run(operation);
  const now = deps.clock.now();
  const sinceSeen = request.firstSeenAt ? now - Date.parse(request.firstSeenAt) : null;
  if (finished.status === 'succeeded') {
    await deps.emit({
      env,
      service,
      operationId: operation.id,
      type: 'drift.repaired',
      message: `repaired ${described} in ${((now - startedAt) / 1000).toFixed(1)}s${sinceSeen !== null ? ` (${(sinceSeen / 1000).toFixed(1)}s after it was first seen)` : ''}`,
      data: {
        items,
        firstSeenAt: request.firstSeenAt ?? null,
        repairStartedAt: new Date(startedAt).toISOString(),
        repairMs: now - startedAt,
      },
    });
  } else {
    await deps.emit({
      env,
      service,
      operationId: operation.id,
      type: 'drift.repair.failed',
      message: `repair ${finished.status}: ${finished.error ?? 'unknown reason'}`,
      data: { items, firstSeenAt: request.firstSeenAt ?? null, error: finished.error },
    });
  }
  return finished;
}
