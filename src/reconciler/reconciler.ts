import { errorMessage } from '../core/errors.js';
import { Engine } from '../engine/engine.js';
import { observeEnvironment } from '../engine/drift.js';
import { newOwner, ownerMayBeAlive } from '../engine/owner.js';
import { environmentStatus, type ServiceStatus } from '../engine/status.js';
import type { Provider } from '../providers/provider.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { EventRecord, NewEvent, StateStore } from '../state/store.js';
import { WorkQueue } from './queue.js';
import {
  ENVIRONMENT_KEY,
  sweep,
  memoryTable,
  reconcile,
  type Observation,
  type ReconcileDeps,
  type ReconcileOutcome,
  type ReconcileResult,
  type ServiceMemory,
} from './reconcile.js';
import { defaultResyncMs, periodicResync, providerChanges } from './sources.js';

export interface ReconcilerOptions {
  store: StateStore;
  provider: Provider;
  env: EnvironmentConfig;
  /** Resync period. Default 5 s for the local provider, 30 s for AWS. */
  resyncMs?: number;
  /** Every event the reconciler and its repairs record, as soon as it is stored. */
  onEvent?: (event: EventRecord) => void;
  /** Lease owner name. Default host/pid/random (a dead local holder's lease is taken at once). */
  owner?: string;
  /**
   * How long the environment lease lasts without renewal. Default 15 s. The holder renews it every
   * third of that; a standby looks at it every retry period (a third, at most 1 s): it takes a dead
   * local holder's lease within one retry, a remote one's within the TTL plus one retry.
   */
  leaseTtlMs?: number;
  /**
   * Keys worked on at once, i.e. repairs (detection does not use workers). Default 20: repairs
   * mostly wait for replicas, and their readiness polls are paced (see pacedProvider).
   */
  workers?: number;
  /** First wait after a failed repair; doubles per failure. Default 2 s. */
  repairBackoffMs?: number;
  /** Longest wait between failing repairs. Default 5 min. */
  maxRepairBackoffMs?: number;
  /** A single reconcile run fails after this long (its key is retried with backoff). Default 5 min. */
  runTimeoutMs?: number;
  /** Problems of the reconciler itself (a run that threw), for logs. */
  onError?: (key: string, error: unknown) => void;
}

export interface ServiceReconcileState {
  service: string;
  outcome: ReconcileOutcome | null;
  detail: string;
  lastRunAt: string | null;
  /** Drift now seen, with when each was first seen. */
  drift: {
    kind: string;
    key: string;
    providerId: string | null;
    state: string;
    fields: string[];
    firstSeenAt: string;
  }[];
  /** Set while repairs keep failing. */
  repairFailing: { attempts: number; lastError: string | null; nextAttemptAt: string } | null;
}

export interface ReconcilerStatus {
  env: string;
  owner: string;
  /** Holds the environment's lease (only the holder acts). */
  leader: boolean;
  leaseToken: number | null;
  resyncMs: number;
  /** Whether the provider's change feed is followed (else only the resync notices changes). */
  changeFeed: boolean;
  lastObservationAt: string | null;
  queued: number;
  services: ServiceReconcileState[];
}

export interface Reconciler {
  /** Stops the sources and workers (waiting briefly for runs in flight) and releases the lease. */
  /**
   * Releases the lease at once, then waits up to `waitMs` (default 10 s) for repairs under way
   * (each stays resumable by the next leader when the wait is shorter than the repair).
   */
  stop(waitMs?: number): Promise<void>;
  /** Looks at a service soon (API writes call this). */
  enqueue(service: string): void;
  status(): ReconcilerStatus;
  /**
   * Every service's status from the reconciler's latest observation, without observing again; an
   * observation older than three resync periods shows as Unknown with its age.
   */
  serviceStatus(service?: string): Promise<ServiceStatus[]>;
}

/** The least time between the starts of two detection passes. */
const PASS_GAP_MS = 100;

/** The longest readiness poll of a repair when many run at once. */
const PACED_POLL_MS = 200;

/**
 * The provider for the reconciler's repairs: the same, except that repairs waiting for replicas
 * poll readiness less often the more of them run at once (up to PACED_POLL_MS), so that together
 * they ask the runtime about as often as one would, instead of crowding out the replicas they
 * wait for (twenty repairs at 10 ms each would be 2,000 requests a second).
 */
function pacedProvider(provider: Provider, running: () => number): Provider {
  return Object.create(provider, {
    readinessPollMs: {
      get: () =>
        Math.max(provider.readinessPollMs, Math.min(PACED_POLL_MS, provider.readinessPollMs * running())),
    },
  }) as Provider;
}

/** Runs `work` with a deadline; the work itself is not stopped (its operations have their own). */
function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000}s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Starts the reconciler of one environment: sources -> queue -> workers -> reconcile(key). Only
 * the holder of the environment's lease (`reconciler/<env>` in the state store) works keys, so
 * two control planes never fight; the others stand by and take over when the lease is free.
 */
export function startReconciler(options: ReconcilerOptions): Reconciler {
  const { store, provider, env } = options;
  const owner = options.owner ?? newOwner();
  const resyncMs = options.resyncMs ?? defaultResyncMs(provider.name);
  const leaseTtlMs = options.leaseTtlMs ?? 15_000;
  const leaseName = `reconciler/${env.name}`;
  const abort = new AbortController();
  const queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 60_000 });
  const memories = new Map<string, ServiceMemory>();
  let busyWorkers = 0;
  const engine = new Engine({
    store,
    provider: pacedProvider(provider, () => busyWorkers),
    env,
    onEvent: options.onEvent,
    actor: { name: 'reconciler', interface: 'direct' },
  });

  let leaderUntil = 0;
  let leaseToken: number | null = null;
  const isLeader = () => Date.now() < leaderUntil;

  const emit = async (event: NewEvent) => {
    const record = await store.appendEvent({ ...event, data: { ...event.data, reconciler: owner } });
    options.onEvent?.(record);
  };

  // One observation at a time, shared by every key that it is fresh enough for.
  let latest: Observation | null = null;
  let inflight: Promise<Observation> | null = null;
  const observe = async (minAt: number): Promise<Observation> => {
    for (;;) {
      if (latest && latest.at >= minAt) return latest;
      if (inflight) {
        await inflight.catch(() => undefined);
        continue;
      }
      const at = Date.now();
      inflight = observeEnvironment(provider, env.name).then((data) => {
        if (!latest || at > latest.at) latest = { data, at };
        return { data, at };
      });
      try {
        return await inflight;
      } finally {
        inflight = null;
      }
    }
  };

  const deps: ReconcileDeps = {
    store,
    provider,
    env,
    engine,
    observe,
    ...memoryTable(memories),
    emit,
    repairBackoff: { baseMs: options.repairBackoffMs ?? 2_000, maxMs: options.maxRepairBackoffMs ?? 300_000 },
    now: () => Date.now(),
  };

  const noteOutcome = (key: string, result: ReconcileResult | null, detail?: string) => {
    const memory = memories.get(key);
    if (!memory) return;
    memory.lastOutcome = result?.outcome ?? null;
    memory.lastDetail = result?.detail ?? detail ?? '';
    memory.lastRunAt = Date.now();
  };

  // Detection: every observation is examined for every service at once, in one loop apart from
  // the workers, so drift is recorded as soon as it is observed even while every worker repairs.
  // A request during a pass runs one more pass after it (with an observation started after the
  // request); requests never pile up.
  let passWanted = false;
  let passLoop: Promise<void> | null = null;
  let lastPassAt = 0;
  const runPasses = async () => {
    while (passWanted && !abort.signal.aborted && isLeader()) {
      // During a storm of changes (say, twenty repairs at once), passes follow each other no
      // closer than PASS_GAP_MS, so observing never crowds out the runtime being observed.
      const wait = lastPassAt + PASS_GAP_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      passWanted = false;
      lastPassAt = Date.now();
      try {
        const swept = await sweep(deps, () => observe(Date.now()), isLeader);
        if (!swept) break;
        const { observation, detected: found } = swept;
        for (const { key, result, workAfterMs, error } of found) {
          if (error !== undefined) options.onError?.(key, error);
          if (result) noteOutcome(key, result);
          // Queued with the observation's time: a worker uses it (or a newer one) to act.
          if (workAfterMs !== null) queue.add(key, workAfterMs, observation.at);
        }
      } catch (error) {
        options.onError?.(ENVIRONMENT_KEY, error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  };
  /** Observes the environment soon and examines every service (the sources call this). */
  const requestPass = () => {
    if (!isLeader()) return; // a standby only watches the lease; taking it requests a pass
    passWanted = true;
    passLoop ??= runPasses().finally(() => (passLoop = null));
  };

  // The lease. The holder renews it every third of its life; a standby looks every retry period
  // (reads only) and tries to take it once it is free, expired, or held by a dead local process.
  const renewEveryMs = Math.max(50, Math.floor(leaseTtlMs / 3));
  const retryPeriodMs = Math.max(50, Math.min(1_000, renewEveryMs));
  let renewedAt = 0;
  const tickLease = async () => {
    if (abort.signal.aborted) return;
    const now = Date.now();
    const was = isLeader();
    if (was && now - renewedAt < renewEveryMs - retryPeriodMs / 2) return;
    let at = now;
    const current = await store.getLease(leaseName);
    const heldByAnother =
      current?.owner && current.owner !== owner && current.expiresAt !== null && current.expiresAt > now;
    if (heldByAnother) {
      if (ownerMayBeAlive(current.owner)) {
        leaderUntil = 0;
        leaseToken = null;
        return;
      }
      at = current.expiresAt!;
    }
    const lease = await store.acquireLease(leaseName, owner, leaseTtlMs, at);
    if (abort.signal.aborted) return; // stopping: stop() releases it
    // Act only until a bit before expiry, so a slow renewal never overlaps the next holder.
    leaderUntil = lease
      ? Math.min(lease.expiresAt ?? 0, now + leaseTtlMs) - Math.min(1_000, leaseTtlMs / 5)
      : 0;
    leaseToken = lease?.token ?? null;
    if (lease) renewedAt = now;
    if (lease && !was) {
      await emit({
        env: env.name,
        service: null,
        operationId: null,
        type: 'reconciler.leading',
        message: `reconciler ${owner} now watches ${env.name} (lease term ${lease.token}; resync every ${resyncMs / 1000}s)`,
        data: {
          token: lease.token,
          owner,
          ...(current?.owner && current.owner !== owner ? { from: current.owner } : {}),
        },
      });
      requestPass();
    }
  };
  let leaseLoop: Promise<void> | null = null;
  const leaseTimer = setInterval(() => {
    leaseLoop ??= tickLease()
      .catch((error: unknown) => options.onError?.('(lease)', error))
      .finally(() => (leaseLoop = null));
  }, retryPeriodMs);
  leaseLoop = tickLease()
    .catch((error: unknown) => options.onError?.('(lease)', error))
    .finally(() => (leaseLoop = null));

  periodicResync(resyncMs, requestPass, abort.signal);
  const changeFeed = providerChanges(provider, env.name, requestPass, abort.signal);

  const runTimeoutMs = options.runTimeoutMs ?? 300_000;
  const worker = async () => {
    for (;;) {
      const item = await queue.get();
      if (!item) return;
      const { key, addedAt } = item;
      try {
        if (!isLeader()) continue; // a standby drops keys; the leader's resync covers them
        busyWorkers += 1;
        const result = await withTimeout(
          reconcile(deps, key, addedAt),
          runTimeoutMs,
          `reconcile ${key}`,
        ).finally(() => (busyWorkers -= 1));
        noteOutcome(key, result);
        queue.forget(key);
        if (result.requeueAfterMs !== undefined) queue.add(key, result.requeueAfterMs);
      } catch (error) {
        // A crash of one run is never the end of the reconciler: that key is retried with backoff.
        noteOutcome(key, null, `reconcile failed: ${errorMessage(error)}`);
        options.onError?.(key, error);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, options.workers ?? 20) }, () => worker());

  return {
    async stop(waitMs = 10_000) {
      abort.abort();
      clearInterval(leaseTimer);
      queue.shutDown();
      const wasLeader = isLeader();
      // Stop acting and hand the environment over at once: a peer takes the lease at its next
      // retry. Repairs still running keep their own operation leases, so the next leader waits
      // for them (or resumes them once this process is gone).
      leaderUntil = 0;
      await leaseLoop?.catch(() => undefined);
      const released = await store.releaseLease(leaseName, owner).catch(() => false);
      if (wasLeader && released) {
        await emit({
          env: env.name,
          service: null,
          operationId: null,
          type: 'reconciler.released',
          message: `reconciler ${owner} stopped watching ${env.name} (lease released)`,
          data: { token: leaseToken, owner },
        }).catch(() => undefined);
      }
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(workers),
        new Promise((resolve) => (grace = setTimeout(resolve, waitMs))),
      ]);
      // Cleared, or this timer alone would keep a stopping process alive until it fires.
      clearTimeout(grace);
      await passLoop?.catch(() => undefined);
    },
    enqueue(service) {
      queue.add(service);
    },
    status() {
      const services: ServiceReconcileState[] = [];
      for (const [service, memory] of memories) {
        if (service === ENVIRONMENT_KEY) continue;
        services.push({
          service,
          outcome: memory.lastOutcome,
          detail: memory.lastDetail,
          lastRunAt: memory.lastRunAt ? new Date(memory.lastRunAt).toISOString() : null,
          drift: [...memory.items.values()].map(({ item, firstSeenAt }) => ({
            kind: item.kind,
            key: item.key,
            providerId: item.providerId,
            state: item.state,
            fields: item.fields.map((field) => field.field),
            firstSeenAt: new Date(firstSeenAt).toISOString(),
          })),
          repairFailing:
            memory.failures > 0
              ? {
                  attempts: memory.failures,
                  lastError: memory.lastError,
                  nextAttemptAt: new Date(memory.retryAt).toISOString(),
                }
              : null,
        });
      }
      return {
        env: env.name,
        owner,
        leader: isLeader(),
        leaseToken,
        resyncMs,
        changeFeed,
        lastObservationAt: latest ? new Date(latest.at).toISOString() : null,
        queued: queue.length,
        services: services.sort((a, b) => a.service.localeCompare(b.service)),
      };
    },
    async serviceStatus(service) {
      const observation = latest ?? (await observe(0));
      return environmentStatus(store, provider, env, service, {
        observation,
        staleAfterMs: 3 * resyncMs,
      });
    },
  };
}
