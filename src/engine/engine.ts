import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';
import { ConflictError, NotFoundError, RefusedError, UserError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { stableStringify } from '../core/stable-json.js';
import type { Provider, VerifiedIdentity } from '../providers/provider.js';
import type { EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import {
  ActiveOperationError,
  type EventRecord,
  type OperationKind,
  type OperationRecord,
  type RevisionRecord,
  type StateStore,
} from '../state/store.js';
import type { ServiceContext } from './context.js';
import { DELETE_STEP_NAMES, deleteSteps, plannedRemovals, type PlannedRemoval } from './delete-steps.js';
import { DEPLOY_STEP_NAMES, deploySteps } from './deploy-steps.js';
import { newOwner, ownerMayBeAlive } from './owner.js';
import { audited, directActor, isRefusal, requireConfirmation, type Actor } from './guard.js';
import { requireOwnHostnames } from './hostname-claims.js';
import { loaderEnvError } from '../spec/loader-env.js';
import { checkIdentity } from './context.js';
import { OperationRunner } from './runner.js';
import { pendingSteps, type StepDefinition } from './steps.js';
import { environmentStatus, type ServiceStatus } from './status.js';
import { describeDrift, repairSteps, runRepair, type DriftItem, type RepairRequest } from './repair.js';
import { sleep } from '../core/clock.js';

export interface EngineOptions {
  store: StateStore;
  provider: Provider;
  env: EnvironmentConfig;
  clock?: Clock;
  /** Lease owner name; default host/pid/random. */
  owner?: string;
  /** Every event, as soon as it is stored (progress rendering, live streams). */
  onEvent?: (event: EventRecord) => void;
  /** Who asks; recorded in the audit trail. Default: the OS user, direct mode. */
  actor?: Actor;
  /**
   * The identity the caller verified when it opened the environment (the CLI shows it in its
   * banner), with when (Date.now()). The first mutation within IDENTITY_REUSE_MS of that uses it
   * instead of asking the provider again (a runtime call; GetCallerIdentity on AWS). It is still
   * compared with the environment's declared identity.
   */
  verified?: { identity: VerifiedIdentity; at: number };
}

/** How long an identity verified on opening the environment stands for the first mutation. */
export const IDENTITY_REUSE_MS = 2000;

export interface DeployRequest {
  /**
   * Keep a version that failed to become healthy instead of returning to the last healthy one
   * (or, for a service that was never live, to nothing). Default false.
   */
  noRollback?: boolean;
  /** How long new replicas may take to become healthy. Default 60 s. */
  healthDeadlineMs?: number;
  /** The environment's name, required for destructive changes (scale to 0, rollback) in a protected one. */
  confirm?: string;
}

export interface OperationOutcome {
  operation: OperationRecord;
  /**
   * What followed a failure: the return to the last healthy revision (a rollback), or, for a
   * service that was never live, the removal of everything it created (a delete).
   */
  rollback: OperationRecord | null;
  /** An interrupted operation that was finished first. */
  resumed: OperationRecord | null;
  urls: string[];
}

const DEFAULT_HEALTH_DEADLINE_MS = 60_000;

export function specHash(spec: ServiceSpec): string {
  return createHash('sha256').update(stableStringify(spec)).digest('hex').slice(0, 16);
}

/**
 * The engine: deploy, rollback, delete, cancel and status of one environment's services. It knows
 * nothing of HTTP or terminals; the CLI (direct mode) and the API call the same functions.
 */
export class Engine {
  private readonly clock: Clock;
  private readonly runner: OperationRunner;
  private readonly actor: Actor;
  private identityId: string | null = null;
  private openerVerified: EngineOptions['verified'];
  /**
   * The identity each running mutation verified, by service: the "check identity" steps of the
   * operations it runs show it instead of asking again. (Not an AsyncLocalStorage: on Node 20 one
   * turns on promise hooks for the whole process, which cost a deploy more than the call it saves.)
   */
  private readonly verifiedFor = new Map<string, { identity: VerifiedIdentity; mutations: number }>();

  constructor(private readonly options: EngineOptions) {
    this.openerVerified = options.verified;
    this.clock = options.clock ?? systemClock;
    this.actor = options.actor ?? directActor();
    this.runner = new OperationRunner({
      store: options.store,
      clock: this.clock,
      owner: options.owner ?? newOwner(),
      onEvent: options.onEvent,
    });
  }

  private context(service: string): ServiceContext {
    const { store, provider, env } = this.options;
    return {
      store,
      provider,
      env,
      service,
      clock: this.clock,
      verified: this.verifiedFor.get(service)?.identity,
    };
  }

  private async whileVerified<T>(
    service: string,
    identity: VerifiedIdentity,
    work: () => Promise<T>,
  ): Promise<T> {
    const entry = this.verifiedFor.get(service) ?? { identity, mutations: 0 };
    entry.identity = identity;
    entry.mutations += 1;
    this.verifiedFor.set(service, entry);
    try {
      return await work();
    } finally {
      if (--entry.mutations === 0) this.verifiedFor.delete(service);
    }
  }

  /** The opener's identity, once, while it is fresh (see EngineOptions.verified). */
  private openerIdentity(): VerifiedIdentity | undefined {
    const verified = this.openerVerified;
    this.openerVerified = undefined;
    return verified && Date.now() - verified.at < IDENTITY_REUSE_MS ? verified.identity : undefined;
  }

  private get store(): StateStore {
    return this.options.store;
  }

  private get envName(): string {
    return this.options.env.name;
  }

  /** Applies a spec: records a revision (when it changed) and converges the world on it. */
  async deploy(spec: ServiceSpec, request: DeployRequest = {}): Promise<OperationOutcome> {
    return this.mutation(
      'deploy',
      spec.name,
      { replicas: spec.replicas, noRollback: Boolean(request.noRollback) },
      async () => {
        // Before anything changes: a name someone else owns is refused, whatever else the spec says.
        await this.requireAcceptable(spec);
        const current = await this.currentSpec(spec.name);
        if (spec.replicas === 0 && current && current.replicas > 0) {
          requireConfirmation(this.options.env, request.confirm, `scale ${spec.name} to 0 replicas`);
        }
        const resumed = await this.finishInterrupted(spec.name);
        await this.ensureServiceRecord(spec.name);
        const revision = await this.revisionFor(spec);
        return this.runConverge(spec.name, 'deploy', revision, request, resumed);
      },
    );
  }

  /** Deploys an earlier revision as a new one (default: the one before the current). */
  async rollback(service: string, to?: number, request: DeployRequest = {}): Promise<OperationOutcome> {
    return this.mutation(
      'rollback',
      service,
      { to: to ?? null },
      () => this.rollbackNow(service, to, request),
      () => requireConfirmation(this.options.env, request.confirm, `roll back ${service}`),
    );
  }

  private async rollbackNow(
    service: string,
    to: number | undefined,
    request: DeployRequest,
  ): Promise<OperationOutcome> {
    const resumed = await this.finishInterrupted(service);
    const record = await this.requireService(service);
    const revisions = await this.store.listRevisions(this.envName, service);
    const target =
      to !== undefined
        ? revisions.find((rev) => rev.number === to)
        : revisions.find((rev) => record.currentRevision !== null && rev.number < record.currentRevision);
    if (!target) {
      const known = revisions.map((rev) => rev.number).join(', ') || 'none';
      // no such revision is a 404; no earlier one is the service's state saying no (409)
      const hint = `revisions of ${service} in ${this.envName}: ${known} (see berth history ${service} --env ${this.envName})`;
      throw to !== undefined
        ? new NotFoundError(`${service} has no revision ${to}`, { hint })
        : new ConflictError(`${service} has no revision before the current one`, { hint });
    }
    await this.requireAcceptable(target.spec);
    const copy = await this.store.addRevision({
      env: this.envName,
      service,
      spec: target.spec,
      specHash: target.specHash,
      origin: { kind: 'rollback', from: target.number },
    });
    return this.runConverge(
      service,
      'rollback',
      copy,
      { ...request, noRollback: request.noRollback },
      resumed,
    );
  }

  /**
   * Redeploys a deleted service exactly as it was: the revision its last delete removed, within
   * `windowMs` (default 24 h) of that delete.
   */
  async restore(service: string, windowMs = 24 * 3600_000): Promise<OperationOutcome> {
    return this.mutation('restore', service, { windowMs }, async () => {
      const resumed = await this.finishInterrupted(service);
      if (await this.store.getService(this.envName, service)) {
        throw new ConflictError(`${service} exists in ${this.envName}: there is nothing to restore`, {
          hint: `to return to an earlier revision use: berth rollback ${service} --env ${this.envName}`,
        });
      }
      const deleted = (await this.store.listOperations(this.envName, service, 50)).find(
        (op) => op.kind === 'delete' && op.status === 'succeeded' && op.revision !== null,
      );
      if (!deleted?.finishedAt || deleted.revision === null) {
        throw new NotFoundError(`berth has no record of a deleted service "${service}" in ${this.envName}`);
      }
      const age = this.clock.now() - Date.parse(deleted.finishedAt);
      if (age > windowMs) {
        throw new ConflictError(
          `${service} was deleted ${Math.round(age / 3600_000)} h ago, outside the restore window of ${Math.round(windowMs / 3600_000)} h`,
          { hint: `deploy it again from its berth.yaml, or pass a longer --window` },
        );
      }
      const revision = await this.store.getRevision(this.envName, service, deleted.revision);
      if (!revision) throw new NotFoundError(`revision ${deleted.revision} of ${service} is gone`);
      await this.requireAcceptable(revision.spec);
      await this.ensureServiceRecord(service);
      return this.runConverge(service, 'deploy', revision, { noRollback: true }, resumed);
    });
  }

  /** What delete would remove, found by tag and in berth's inventory. */
  async previewDelete(service: string): Promise<PlannedRemoval[]> {
    return plannedRemovals(this.context(service));
  }

  async delete(service: string, request: { confirm?: string } = {}): Promise<OperationOutcome> {
    return this.mutation(
      'delete',
      service,
      {},
      () => this.deleteNow(service),
      () => requireConfirmation(this.options.env, request.confirm, `delete ${service}`),
    );
  }

  private async deleteNow(service: string): Promise<OperationOutcome> {
    const resumed = await this.finishInterrupted(service);
    // An interrupted delete that now finished is the delete that was asked for.
    if (resumed?.kind === 'delete' && resumed.status === 'succeeded') {
      return { operation: resumed, rollback: null, resumed, urls: [] };
    }
    const record = await this.store.getService(this.envName, service);
    if (record?.currentRevision) {
      const revision = await this.store.getRevision(this.envName, service, record.currentRevision);
      if (revision?.spec.protection.deletion) {
        throw new RefusedError(
          `${service} in ${this.envName} has deletion protection (revision ${revision.number})`,
          {
            code: 'deletion_protected',
            hint: `to delete it, first deploy it with "protection: { deletion: false }" in berth.yaml`,
          },
        );
      }
    }
    if (!record && (await this.previewDelete(service)).length === 0) await this.throwUnknownService(service);
    const operation = await this.store.createOperation({
      id: newId('op'),
      env: this.envName,
      service,
      kind: 'delete',
      status: 'pending',
      revision: record?.currentRevision ?? null,
      params: {},
      steps: pendingSteps(DELETE_STEP_NAMES),
    });
    const finished = await this.runner.run(operation, deleteSteps(this.context(service)));
    return { operation: finished, rollback: null, resumed, urls: [] };
  }

  /**
   * Converges a service on its current revision again, touching only what drifted (the reconciler's
   * repair). Refuses with ActiveOperationError while any operation is active; never rolls back.
   */
  async repair(service: string, request: RepairRequest = {}): Promise<OperationOutcome> {
    return this.mutation('repair', service, { drift: request.drift?.length ?? 0 }, async () => {
      const operation = await runRepair(
        {
          store: this.store,
          clock: this.clock,
          env: this.envName,
          service,
          emit: (event) => this.runner.emit(event),
          run: (op) => this.runner.run(op, this.stepsFor(op)),
        },
        request,
        DEFAULT_HEALTH_DEADLINE_MS,
      );
      const spec = operation.params.spec as ServiceSpec;
      const urls = await this.options.provider.urls(spec, this.options.env);
      return { operation, rollback: null, resumed: null, urls };
    });
  }

  /**
   * Asks the active operation to stop. When the process running it is gone, the operation is
   * finished as cancelled here; otherwise this waits (up to `waitMs`) for its runner to stop.
   */
  async cancel(service: string, waitMs = 30_000): Promise<OperationRecord> {
    return audited(
      this.store,
      {
        actor: this.actor,
        env: this.envName,
        identity: () => this.identityId,
        action: 'cancel',
        args: { service },
      },
      () => this.cancelNow(service, waitMs),
      (operation) => `${operation.kind} ${operation.id} ${operation.status}`,
    );
  }

  private async cancelNow(service: string, waitMs: number): Promise<OperationRecord> {
    const active = await this.store.getActiveOperation(this.envName, service);
    if (!active) {
      throw new ConflictError(`${service} in ${this.envName} has no active operation to cancel`, {
        hint: `see its operations with: berth history ${service} --env ${this.envName}`,
      });
    }
    await this.store.requestCancel(active.id);
    const expired = active.leaseExpiresAt === null || active.leaseExpiresAt <= this.clock.now();
    if (expired || !ownerMayBeAlive(active.leaseOwner)) {
      const latest = (await this.store.getOperation(active.id)) ?? active;
      return this.runner.run(latest, this.stepsFor(latest));
    }
    const giveUpAt = Date.now() + waitMs;
    for (;;) {
      const latest = await this.store.getOperation(active.id);
      if (!latest || !['pending', 'running'].includes(latest.status) || Date.now() > giveUpAt)
        return latest ?? active;
      await sleep(100);
    }
  }

  async status(service?: string): Promise<ServiceStatus[]> {
    if (service) await this.requireService(service);
    return environmentStatus(this.store, this.options.provider, this.options.env, service);
  }

  /**
   * Finishes an operation that a killed process left behind, so that the next command starts
   * from a clean state. When another runner is already resuming it (a control plane's reconciler,
   * another command that got there first), this waits for that runner and returns the outcome,
   * unless `wait` is false; an operation that its first, live runner still runs is refused
   * (ActiveOperationError, naming it).
   */
  async finishInterrupted(
    service: string,
    options: { wait?: boolean } = {},
  ): Promise<OperationRecord | null> {
    for (;;) {
      const active = await this.store.getActiveOperation(this.envName, service);
      if (!active) return null;
      const expired = active.leaseExpiresAt === null || active.leaseExpiresAt <= this.clock.now();
      if (!expired && ownerMayBeAlive(active.leaseOwner)) {
        // Claimed more than once: it was interrupted and someone live is resuming it.
        if (active.fencingToken > 1 && options.wait !== false) return this.waitForEnd(active);
        throw new ActiveOperationError(active);
      }
      try {
        const finished = await this.runner.run(active, this.stepsFor(active));
        if (finished.kind === 'repair' && finished.status === 'succeeded')
          await this.resumedRepairDone(finished);
        return finished;
      } catch (error) {
        // Another runner claimed it between our read and our claim: look again (and wait for it).
        if (error instanceof UserError && error.code === 'operation_active') continue;
        throw error;
      }
    }
  }

  /**
   * A repair whose runner died and that finished here: the drift it was started for is repaired
   * (said as runRepair says it, so that timelines mark the end of the outage either way).
   */
  private async resumedRepairDone(operation: OperationRecord): Promise<void> {
    const items = Array.isArray(operation.params.drift) ? (operation.params.drift as DriftItem[]) : [];
    const startedAt = Date.parse(operation.startedAt ?? operation.createdAt);
    const now = this.clock.now();
    await this.runner.emit({
      env: this.envName,
      service: operation.service,
      operationId: operation.id,
      type: 'drift.repaired',
      message: `repaired ${items.length ? describeDrift(items) : 'whatever differed'} in ${((now - startedAt) / 1000).toFixed(1)}s (resumed after its first runner died)`,
      data: {
        items,
        firstSeenAt: operation.params.firstSeenAt ?? null,
        repairMs: now - startedAt,
        resumed: true,
      },
    });
  }

  /** Waits until `operation` is finished (or its runner dies, then the caller's loop resumes it). */
  private async waitForEnd(operation: OperationRecord): Promise<OperationRecord | null> {
    for (;;) {
      await sleep(200);
      const latest = await this.store.getOperation(operation.id);
      if (!latest || latest.finishedAt) return latest;
      const expired = latest.leaseExpiresAt === null || latest.leaseExpiresAt <= this.clock.now();
      if (expired || !ownerMayBeAlive(latest.leaseOwner)) return this.finishInterrupted(operation.service);
    }
  }

  private stepsFor(operation: OperationRecord): StepDefinition[] {
    if (operation.kind === 'delete') return deleteSteps(this.context(operation.service));
    const spec = operation.params.spec as ServiceSpec | undefined;
    if (!spec) throw new Error(`operation ${operation.id} has no spec to resume with`);
    if (operation.kind === 'repair') {
      return repairSteps(this.context(operation.service), spec, {
        healthDeadlineMs: Number(operation.params.healthDeadlineMs) || DEFAULT_HEALTH_DEADLINE_MS,
      });
    }
    return deploySteps(this.context(operation.service), spec, {
      healthDeadlineMs: Number(operation.params.healthDeadlineMs) || DEFAULT_HEALTH_DEADLINE_MS,
    });
  }

  private async runConverge(
    service: string,
    kind: OperationKind,
    revision: RevisionRecord,
    request: DeployRequest,
    resumed: OperationRecord | null,
  ): Promise<OperationOutcome> {
    const healthDeadlineMs = request.healthDeadlineMs ?? DEFAULT_HEALTH_DEADLINE_MS;
    const operation = await this.store.createOperation({
      id: newId('op'),
      env: this.envName,
      service,
      kind,
      status: 'pending',
      revision: revision.number,
      params: { spec: revision.spec, healthDeadlineMs, noRollback: Boolean(request.noRollback) },
      steps: pendingSteps([...DEPLOY_STEP_NAMES]),
    });
    const finished = await this.runner.run(operation, this.stepsFor(operation));
    const urls = await this.options.provider.urls(revision.spec, this.options.env);
    if (finished.status === 'succeeded' || request.noRollback) {
      return { operation: finished, rollback: null, resumed, urls };
    }
    const record = await this.store.getService(this.envName, service);
    const rollback = record?.lastHealthyRevision
      ? await this.returnToLastHealthy(service, finished, healthDeadlineMs)
      : await this.returnToNothing(service, finished);
    return { operation: finished, rollback, resumed, urls: record?.lastHealthyRevision ? urls : [] };
  }

  /**
   * After a failed or cancelled deploy of a service that was never live, removes every piece of it
   * (found by tag and in berth's inventory) and berth's record, as a delete would: nothing is left
   * behind that nobody can see. `--no-rollback` keeps them instead, shown as Failed.
   */
  private async returnToNothing(service: string, failed: OperationRecord): Promise<OperationRecord> {
    await this.runner.emit({
      env: this.envName,
      service,
      operationId: failed.id,
      type: 'rollback.automatic',
      message: `${failed.kind} ${failed.status} and it was never live: removing everything it created (to keep it for inspection, deploy with --no-rollback)`,
      data: { from: failed.revision, to: null },
    });
    const operation = await this.store.createOperation({
      id: newId('op'),
      env: this.envName,
      service,
      kind: 'delete',
      status: 'pending',
      revision: failed.revision,
      params: { automatic: true, after: failed.id },
      steps: pendingSteps(DELETE_STEP_NAMES),
    });
    return this.runner.run(operation, this.stepsFor(operation));
  }

  /** After a failed or cancelled deploy, converges again on the last revision that was healthy. */
  private async returnToLastHealthy(
    service: string,
    failed: OperationRecord,
    healthDeadlineMs: number,
  ): Promise<OperationRecord | null> {
    const record = await this.store.getService(this.envName, service);
    const target = record?.lastHealthyRevision;
    if (!target || target === failed.revision) return null;
    const revision = await this.store.getRevision(this.envName, service, target);
    if (!revision) return null;
    await this.runner.emit({
      env: this.envName,
      service,
      operationId: failed.id,
      type: 'rollback.automatic',
      message: `${failed.kind} of revision ${failed.revision} ${failed.status}: returning to revision ${target}, the last healthy one`,
      data: { from: failed.revision, to: target },
    });
    const operation = await this.store.createOperation({
      id: newId('op'),
      env: this.envName,
      service,
      kind: 'rollback',
      status: 'pending',
      revision: target,
      params: { spec: revision.spec, healthDeadlineMs, automatic: true, after: failed.id },
      steps: pendingSteps([...DEPLOY_STEP_NAMES]),
    });
    return this.runner.run(operation, this.stepsFor(operation));
  }

  /**
   * Every mutation: verify the identity first (refused, exit 3, when it is not the declared one),
   * record a refusal as an event, and record the audit entry whatever the result.
   */
  private mutation(
    action: string,
    service: string,
    args: Record<string, unknown>,
    work: () => Promise<OperationOutcome>,
    /** A safety rule checked first, before anything is asked of the provider. */
    precheck?: () => void,
  ): Promise<OperationOutcome> {
    return audited(
      this.store,
      {
        actor: this.actor,
        env: this.envName,
        identity: () => this.identityId,
        action,
        args: { service, ...args },
      },
      async () => {
        try {
          precheck?.();
          const identity = await checkIdentity({
            provider: this.options.provider,
            env: this.options.env,
            verified: this.openerIdentity(),
          });
          this.identityId = identity.id;
          // Verified once per mutation: its operations' "check identity" steps show this one.
          return await this.whileVerified(service, identity, work);
        } catch (error) {
          if (isRefusal(error)) {
            await this.runner.emit({
              env: this.envName,
              service,
              operationId: null,
              type: 'refused',
              message: `${action} refused: ${error.message}`,
              data: { action, actor: this.actor.name, interface: this.actor.interface },
            });
          }
          throw error;
        }
      },
      ({ operation, rollback }) =>
        `${operation.kind} ${operation.id} ${operation.status}` +
        (rollback ? `; returned to revision ${rollback.revision}: ${rollback.status}` : ''),
    );
  }

  /**
   * Checks that apply to any spec about to be deployed, whatever path it came by (a berth.yaml, the
   * API, an old revision): no loader variables it does not allow, no host name someone else owns.
   */
  private async requireAcceptable(spec: ServiceSpec): Promise<void> {
    const loader = loaderEnvError(spec);
    if (loader) throw loader;
    await requireOwnHostnames(this.options, spec);
  }

  private async currentSpec(service: string): Promise<ServiceSpec | null> {
    const record = await this.store.getService(this.envName, service);
    if (!record?.currentRevision) return null;
    return (await this.store.getRevision(this.envName, service, record.currentRevision))?.spec ?? null;
  }

  private async revisionFor(spec: ServiceSpec): Promise<RevisionRecord> {
    const hash = specHash(spec);
    const [latest] = await this.store.listRevisions(this.envName, spec.name);
    if (latest && latest.specHash === hash) return latest;
    return this.store.addRevision({
      env: this.envName,
      service: spec.name,
      spec,
      specHash: hash,
      origin: { kind: 'deploy' },
    });
  }

  private async ensureServiceRecord(service: string): Promise<void> {
    if (await this.store.getService(this.envName, service)) return;
    const now = new Date(this.clock.now()).toISOString();
    await this.store
      .putService(
        {
          env: this.envName,
          name: service,
          currentRevision: null,
          lastHealthyRevision: null,
          generation: 0,
          status: 'active',
          createdAt: now,
          updatedAt: now,
        },
        null,
      )
      .catch(() => undefined); // created concurrently: fine
  }

  private async requireService(service: string) {
    const record = await this.store.getService(this.envName, service);
    if (!record) await this.throwUnknownService(service);
    return record!;
  }

  private async throwUnknownService(service: string): Promise<never> {
    const names = (await this.store.listServices(this.envName)).map((record) => record.name);
    throw new NotFoundError(`there is no service "${service}" in ${this.envName}`, {
      hint: names.length
        ? `services in ${this.envName}: ${names.join(', ')}`
        : `${this.envName} has no services yet; deploy one with: berth deploy PATH --env ${this.envName}`,
    });
  }
}
