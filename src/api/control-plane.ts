/**
 * The control plane's engine host: the environments from berth.config.yaml, each with its state
 * store and provider (opened on first use), and the operations this process runs. The API
 * process is the runner: a mutation returns as soon as its operation exists and continues here.
 */
import { EventEmitter } from 'node:events';
import { errorMessage, UserError } from '../core/errors.js';
import { Engine, type OperationOutcome } from '../engine/engine.js';
import type { Actor } from '../engine/guard.js';
import { ownerMayBeAlive } from '../engine/owner.js';
import { createProvider } from '../providers/index.js';
import type { Provider, VerifiedIdentity } from '../providers/provider.js';
import { formatDiagnostics, loadBerthConfig, resolveEnvironment } from '../spec/index.js';
import type { BerthConfig, EnvironmentConfig } from '../spec/types.js';
import { openStateStore } from '../state/index.js';
import type { EventRecord, OperationRecord, StateStore } from '../state/store.js';
import { HttpError, toHttpError, type ApiErrorBody } from './errors.js';

/** One environment, opened: what routes work with. */
export interface OpenEnv {
  env: EnvironmentConfig;
  store: StateStore;
  provider: Provider;
  identity: VerifiedIdentity;
  /** When the identity was verified (Date.now()); unknown: a mutation verifies it again. */
  verifiedAt?: number;
}

/** A mutation this process runs: the operation it created, and how it ended. */
export interface Job {
  operationId: string;
  env: string;
  service: string;
  done: boolean;
  outcome: OperationOutcome | null;
  error: ApiErrorBody | null;
  /** The last event seq of the service when the job ended: a watcher has seen everything once past it. */
  lastSeq: number;
}

export interface ControlPlaneOptions {
  dataDir: string;
  /** The environment config; default: loaded from the data dir. */
  config?: BerthConfig;
  log?: (message: string) => void;
  /** Every event this process's engines store (metrics, live streams). */
  onEvent?: (event: EventRecord) => void;
  /** After every write through the API (the reconciler enqueues the service). */
  onWrite?: (env: string, service: string) => void;
}

interface EnvSlot {
  store: StateStore | null;
  provider: Provider | null;
  opening: Promise<OpenEnv> | null;
}

export async function loadControlPlaneConfig(dataDir: string): Promise<BerthConfig> {
  const loaded = await loadBerthConfig(dataDir);
  if (!loaded.config) {
    throw new UserError(`the environment config ${loaded.file} is invalid`, {
      details: formatDiagnostics(loaded.file, loaded.diagnostics),
    });
  }
  return loaded.config;
}

export class ControlPlane {
  /** Emits 'event' (EventRecord) for every event stored by this process, and 'job' when a job ends. */
  readonly bus = new EventEmitter();
  readonly jobs = new Map<string, Job>();
  private readonly slots = new Map<string, EnvSlot>();
  private readonly running = new Set<Promise<unknown>>();
  private draining = false;
  private parked = 0;
  /** Operations parked between steps by close(), with the store they were parked in. */
  private readonly parkedOperations = new Map<string, StateStore>();
  /** Progress and problems of the control plane (stderr of `berth up`). */
  readonly log: (message: string) => void;

  constructor(
    readonly options: ControlPlaneOptions,
    readonly config: BerthConfig,
  ) {
    this.bus.setMaxListeners(0);
    this.log = options.log ?? (() => undefined);
  }

  static async create(options: ControlPlaneOptions): Promise<ControlPlane> {
    return new ControlPlane(options, options.config ?? (await loadControlPlaneConfig(options.dataDir)));
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** The environment named `name`; 404 listing the known ones when there is none. */
  environment(name: string): EnvironmentConfig {
    try {
      return resolveEnvironment(this.config, name);
    } catch (error) {
      if (error instanceof UserError) {
        throw new HttpError(404, 'unknown_environment', error.message, { hint: error.hint });
      }
      throw error;
    }
  }

  /** Its store only (enough for history, events, audit): works for every provider. */
  async store(name: string): Promise<StateStore> {
    const env = this.environment(name);
    const slot = this.slot(name);
    if (!slot.store) {
      try {
        slot.store = await openStateStore(env, this.dataDir);
      } catch (error) {
        const user = error instanceof UserError ? error : null;
        throw new HttpError(
          422,
          'state_unavailable',
          user ? user.message : `the state store of ${env.name} cannot be opened: ${errorMessage(error)}`,
          { hint: user?.hint, details: user?.details, exitCode: user?.exitCode ?? 2 },
        );
      }
    }
    return slot.store;
  }

  /**
   * The environment with its provider and verified identity. A provider that cannot be driven yet
   * (e.g. aws in this build) is a 422 naming the reason; a provider whose backend went away (the
   * local runtime restarted) is opened again.
   */
  async open(name: string): Promise<OpenEnv> {
    const env = this.environment(name);
    const slot = this.slot(name);
    const store = await this.store(name);
    if (slot.provider) {
      try {
        const identity = await slot.provider.identity();
        return { env, store, provider: slot.provider, identity, verifiedAt: Date.now() };
      } catch {
        const stale = slot.provider;
        slot.provider = null;
        await stale.close().catch(() => undefined);
      }
    }
    slot.opening ??= (async () => {
      try {
        const provider = await createProvider(env, {
          dataDir: this.dataDir,
          onRuntimeStart: (message) => this.log(message),
        });
        slot.provider = provider;
        const identity = await provider.identity();
        return { env, store, provider, identity, verifiedAt: Date.now() };
      } catch (error) {
        // Whatever the reason (not drivable in this build, credentials, an endpoint that is down),
        // the request cannot be served in this environment: a 4xx that says why, never a 5xx.
        const user = error instanceof UserError ? error : null;
        throw new HttpError(
          422,
          'provider_unavailable',
          user
            ? user.message
            : `the ${env.provider} provider of ${env.name} cannot be used: ${errorMessage(error)}`,
          { hint: user?.hint, details: user?.details, exitCode: user?.exitCode ?? 2 },
        );
      } finally {
        slot.opening = null;
      }
    })();
    return slot.opening;
  }

  /** An engine for one request, acting as `actor`. */
  engine(open: OpenEnv, actor: Actor, store: StateStore = open.store): Engine {
    return new Engine({
      store,
      provider: open.provider,
      env: open.env,
      actor,
      onEvent: (event) => this.publish(event),
      // A mutation started at once verifies the identity with this, not with another provider call.
      verified: open.verifiedAt === undefined ? undefined : { identity: open.identity, at: open.verifiedAt },
    });
  }

  /** An event stored by this process (engines, the reconciler): metrics and live streams see it now. */
  publish(event: EventRecord): void {
    this.options.onEvent?.(event);
    this.bus.emit('event', event);
  }

  /**
   * Starts a mutation in the background and resolves with the operation it created (or the
   * operation it ended with, when it created none), plus the event seq to follow it from. Errors
   * before the operation exists (refusals, bad input, an active operation) reject at once.
   */
  async startJob(
    envName: string,
    service: string,
    actor: Actor,
    work: (engine: Engine) => Promise<OperationOutcome>,
  ): Promise<{ operation: OperationRecord; afterSeq: number; job: Job }> {
    if (this.draining) {
      throw new HttpError(409, 'shutting_down', 'the control plane is shutting down', {
        hint: 'start it again with `berth up`, or use --direct',
      });
    }
    const open = await this.open(envName);
    const afterSeq = await lastSeq(open.store, envName, service);
    let created: (operation: OperationRecord) => void = () => undefined;
    const firstOperation = new Promise<OperationRecord>((resolve) => (created = resolve));
    const store = this.guardedStore(open.store, (operation) => created(operation));
    const promise = work(this.engine(open, actor, store));
    this.track(promise);
    const operation = await Promise.race([firstOperation, promise.then((outcome) => outcome.operation)]);
    const job: Job = {
      operationId: operation.id,
      env: envName,
      service,
      done: false,
      outcome: null,
      error: null,
      lastSeq: 0,
    };
    this.jobs.set(operation.id, job);
    const finish = async () => {
      job.lastSeq = await lastSeq(open.store, envName, service).catch(() => Number.MAX_SAFE_INTEGER);
      job.done = true;
      this.bus.emit('job', job);
      this.options.onWrite?.(envName, service);
      // Keep finished jobs for a while, so a watcher that reconnects still gets the outcome.
      setTimeout(() => this.jobs.delete(operation.id), 10 * 60_000).unref();
    };
    promise.then(
      async (outcome) => {
        job.outcome = outcome;
        await finish();
      },
      async (error: unknown) => {
        job.error = toHttpError(error).body;
        if (job.error.error === 'internal') this.log(`operation ${operation.id} failed: ${String(error)}`);
        await finish();
      },
    );
    this.options.onWrite?.(envName, service);
    return { operation, afterSeq, job };
  }

  /**
   * Operations left running by a control plane (or CLI) that died: finished here in the background
   * (each resumes at its first unfinished step). A peer that gets there first runs it instead.
   */
  async resumeInterrupted(actor: Actor): Promise<void> {
    for (const env of Object.values(this.config.environments)) {
      try {
        const open = await this.open(env.name);
        for (const record of await open.store.listServices(env.name)) {
          const active = await open.store.getActiveOperation(env.name, record.name);
          if (!active || ownerMayBeAlive(active.leaseOwner)) continue;
          this.log(`resuming ${active.kind} ${active.id} of ${record.name} in ${env.name}`);
          const engine = this.engine(
            open,
            actor,
            this.guardedStore(open.store, () => undefined),
          );
          this.track(engine.finishInterrupted(record.name, { wait: false })).catch((error: unknown) => {
            if (error instanceof UserError && error.code === 'operation_active') return; // a peer has it
            this.log(`resuming ${active.id} failed: ${errorMessage(error)}`);
          });
        }
      } catch (error) {
        this.log(`cannot resume operations in ${env.name}: ${errorMessage(error)}`);
      }
    }
  }

  /**
   * Stops: no new mutation starts; each running operation finishes its current step and stops
   * before the next one (it stays resumable: the next command or control plane continues it),
   * waiting at most `graceMs`. Then closes stores and providers when nothing is running.
   */
  async close(graceMs = 15_000): Promise<{ interrupted: number }> {
    this.draining = true;
    const giveUp = Date.now() + graceMs;
    while (this.running.size > this.parked && Date.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const interrupted = this.running.size;
    await this.releaseParked();
    if (interrupted === 0) {
      for (const slot of this.slots.values()) {
        await slot.provider?.close().catch(() => undefined);
        await slot.store?.close().catch(() => undefined);
      }
      this.slots.clear();
    }
    return { interrupted };
  }

  /**
   * Ends the lease of every operation parked between steps, as stored before the held-back step
   * began, so that a peer on another machine resumes it now rather than when its lease runs out
   * (one on this machine would see this process gone anyway).
   */
  private async releaseParked(): Promise<void> {
    for (const [id, store] of this.parkedOperations) {
      try {
        const stored = await store.getOperation(id);
        if (stored && !stored.finishedAt) await store.saveOperation(stored, 0, Date.now());
      } catch (error) {
        this.log(`cannot release the lease of ${id}: ${errorMessage(error)}`);
      }
    }
    this.parkedOperations.clear();
  }

  private slot(name: string): EnvSlot {
    let slot = this.slots.get(name);
    if (!slot) {
      slot = { store: null, provider: null, opening: null };
      this.slots.set(name, slot);
    }
    return slot;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.running.add(promise);
    const remove = () => this.running.delete(promise);
    promise.then(remove, remove);
    return promise;
  }

  /**
   * The store as one job's engine sees it: reports the first operation it creates, and, once the
   * control plane is draining, holds back the write that would start a new step, so that the
   * operation stops between steps (persisted, resumable) instead of in the middle of one.
   */
  private guardedStore(store: StateStore, onCreate: (operation: OperationRecord) => void): StateStore {
    const running = new Map<string, Set<string>>();
    return new Proxy(store, {
      get: (target, property, receiver) => {
        if (property === 'createOperation') {
          return async (...args: Parameters<StateStore['createOperation']>) => {
            const operation = await target.createOperation(...args);
            onCreate(operation);
            return operation;
          };
        }
        if (property === 'saveOperation') {
          return async (...args: Parameters<StateStore['saveOperation']>) => {
            const [record] = args;
            const now = new Set(record.steps.filter((s) => s.status === 'running').map((s) => s.name));
            const before = running.get(record.id) ?? new Set<string>();
            const starts = [...now].some((name) => !before.has(name));
            if (this.draining && starts) {
              this.parked += 1;
              this.parkedOperations.set(record.id, target);
              return new Promise<void>(() => undefined); // never: the process exits first
            }
            running.set(record.id, now);
            return target.saveOperation(...args);
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

/** The newest event seq of a service (0 when it has none). */
export async function lastSeq(store: StateStore, env: string, service: string): Promise<number> {
  const [newest] = await store.listEvents({ env, service, limit: 1, newest: true });
  return newest?.seq ?? 0;
}
