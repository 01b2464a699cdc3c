/**
 * reconcile(key): level-based. It never sees the event that woke it; it reads the desired state
 * (berth's record and current revision) and the latest observation (taken after the key was
 * queued and after the service's last operation finished), computes drift, records events, and,
 * under policy heal, asks the engine for a repair operation. It only decides: the repair runs the
 * deploy's idempotent steps, in the engine.
 *
 * detect(observation) does the same looking for every service of one observation at once, and
 * records what drift it shows at once, but acts on nothing: it tells which keys need a worker (a
 * repair or a resume). So drift is recorded when it is observed, not when a worker is free.
 *
 * Contract: it resolves with an outcome (and, when the key must be looked at again before the
 * next resync, `requeueAfterMs`); it throws only when it could not decide (the store or provider
 * failed), which the worker answers with a per-key backoff.
 */
import { TAG_SERVICE } from '../core/tags.js';
import { errorMessage } from '../core/errors.js';
import { forEachSliced } from '../core/event-loop.js';
import type { Engine } from '../engine/engine.js';
import {
  computeDrift,
  emptyObservation,
  type EnvironmentObservation,
  type ResourceView,
} from '../engine/drift.js';
import { generationOf } from '../engine/deploy-steps.js';
import { ownerMayBeAlive } from '../engine/owner.js';
import { describeDrift, driftItems, type DriftItem } from '../engine/repair.js';
import type { Provider } from '../providers/provider.js';
import type { DriftPolicy, EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import {
  ActiveOperationError,
  RESOURCE_KINDS,
  type NewEvent,
  type OperationRecord,
  type ServiceSweepState,
  type StateStore,
} from '../state/store.js';

/** The queue key of the environment itself: resources tagged as berth's that no service owns. */
export const ENVIRONMENT_KEY = '(environment)';

/** Services examined at once by detection (a store with real I/O, such as DynamoDB, works in parallel). */
const DETECT_CONCURRENCY = 16;

/** An operation with no owner yet is being started by someone: it is not interrupted until then. */
const UNCLAIMED_GRACE_MS = 10_000;

export interface Observation {
  data: EnvironmentObservation;
  /** When the list calls started: everything changed before this is in `data`. */
  at: number;
}

export type ReconcileOutcome =
  | 'gone'
  | 'not-deployed'
  | 'busy'
  | 'resumed'
  | 'in-sync'
  | 'unhealthy'
  | 'reported'
  | 'held'
  | 'backing-off'
  | 'repaired'
  | 'repair-failed'
  | 'orphans';

export interface ReconcileResult {
  outcome: ReconcileOutcome;
  detail: string;
  /** Look at this key again after this long (besides the periodic resync). */
  requeueAfterMs?: number;
}

/** What the reconciler remembers of one service between runs (in memory; events keep the history). */
export interface ServiceMemory {
  /** Drift now seen, by item identity, with when it was first seen. */
  items: Map<string, { firstSeenAt: number; signature: string; item: DriftItem }>;
  /** Consecutive failed repairs, and when the next one may start. */
  failures: number;
  retryAt: number;
  lastError: string | null;
  lastOutcome: ReconcileOutcome | null;
  lastDetail: string;
  lastRunAt: number | null;
  /** A repair of ours ran since the drift was first seen (then "cleared" is the repair's doing). */
  repairedByUs: boolean;
  /** When the observation that `items` reflects was taken (an older one changes nothing). */
  observedAt: number;
}

export function newMemory(): ServiceMemory {
  return {
    items: new Map(),
    failures: 0,
    retryAt: 0,
    lastError: null,
    lastOutcome: null,
    lastDetail: '',
    lastRunAt: null,
    repairedByUs: false,
    observedAt: 0,
  };
}

/** What the reconciler remembers, by key: the memory/remembered/forget part of ReconcileDeps. */
export function memoryTable(memories = new Map<string, ServiceMemory>()) {
  return {
    memories,
    memory(key: string): ServiceMemory {
      let memory = memories.get(key);
      if (!memory) memories.set(key, (memory = newMemory()));
      return memory;
    },
    remembered: (): string[] => [...memories.keys()],
    forget: (key: string): void => void memories.delete(key),
  };
}

export interface ReconcileDeps {
  store: StateStore;
  provider: Provider;
  env: EnvironmentConfig;
  engine: Engine;
  /** An observation that started no earlier than `minAt` (shared by every key that can use it). */
  observe(minAt: number): Promise<Observation>;
  memory(key: string): ServiceMemory;
  /** The keys with a memory (services seen before, the environment). */
  remembered(): string[];
  forget(key: string): void;
  emit(event: NewEvent): Promise<void>;
  /** Backoff of failing repairs: base x 2^(failures - 1), capped. */
  repairBackoff: { baseMs: number; maxMs: number };
  now(): number;
}

/**
 * The policy in force: `report` at either level wins, so that an operator can stop every repair
 * in an environment (say, during an incident) without redeploying each service.
 */
export function effectivePolicy(env: EnvironmentConfig, spec: ServiceSpec | null): DriftPolicy {
  return env.drift === 'report' || spec?.drift === 'report' ? 'report' : 'heal';
}

function itemId(item: DriftItem): string {
  return `${item.kind}|${item.key}|${item.state === 'orphaned' ? (item.providerId ?? '') : ''}`;
}

function signatureOf(item: DriftItem): string {
  return JSON.stringify([item.state, item.fields]);
}

function interrupted(op: OperationRecord, now: number): boolean {
  if (op.leaseOwner === null) return now - Date.parse(op.createdAt) > UNCLAIMED_GRACE_MS;
  const expired = op.leaseExpiresAt === null || op.leaseExpiresAt <= now;
  return expired || !ownerMayBeAlive(op.leaseOwner);
}

/** What a look at a service asks the worker to do: resume an interrupted operation, or repair. */
type Action =
  | { action: 'resume'; active: OperationRecord }
  | { action: 'repair'; memory: ServiceMemory; actionable: ResourceView[]; described: string };

/**
 * Reads the desired state and an observation of `service`, records what drift it shows (once per
 * new or changed item), and decides: either an outcome, or an action for a worker. It changes
 * nothing in the world. With `given`, it uses that observation and never waits for another (an
 * observation too old for the service's last operation is left to a worker, with `requeueAfterMs`).
 */
async function examine(
  deps: ReconcileDeps,
  service: string,
  look: { minAt: number } | { given: Observation; state: ServiceSweepState | null },
): Promise<ReconcileResult | Action> {
  const { store, env } = deps;
  // Detection passes what the sweep read of every service at once; a worker reads its one.
  const sweep = 'given' in look ? look.state : undefined;
  const record = sweep !== undefined ? (sweep?.record ?? null) : await store.getService(env.name, service);
  if (!record || record.status !== 'active') {
    deps.forget(service);
    return { outcome: 'gone', detail: `berth has no record of ${service}` };
  }
  const memory = deps.memory(service);
  const active = sweep ? sweep.activeOperation : await store.getActiveOperation(env.name, service);
  const revision = sweep
    ? sweep.revision
    : record.currentRevision
      ? await store.getRevision(env.name, service, record.currentRevision)
      : null;
  const policy = effectivePolicy(env, revision?.spec ?? null);
  if (active) {
    if (!interrupted(active, deps.now())) {
      return { outcome: 'busy', detail: `${active.kind} ${active.id} is ${active.status}` };
    }
    if (policy === 'report') {
      return {
        outcome: 'held',
        detail: `${active.kind} ${active.id} was interrupted (policy report: not resumed)`,
      };
    }
    return { action: 'resume', active };
  }
  if (!revision) return { outcome: 'not-deployed', detail: `${service} has no deployed revision yet` };

  const [latest] = sweep
    ? [sweep.latestOperation ?? undefined]
    : await store.listOperations(env.name, service, 1);
  const latestEnd = latest?.finishedAt ? Date.parse(latest.finishedAt) : 0;
  let observation: Observation;
  if ('given' in look) {
    observation = look.given;
    // Taken before the last operation ended: a picture of its middle. A worker looks again.
    if (observation.at <= latestEnd) {
      return { outcome: 'busy', detail: `${latest!.kind} ${latest!.id} just finished`, requeueAfterMs: 0 };
    }
  } else {
    observation = await deps.observe(Math.max(look.minAt, latestEnd + 1));
  }
  // An operation that began while we observed makes this observation a picture of its middle.
  // A given observation was taken before `latest` was read: `latest` itself tells (and detection
  // saves a store read per service).
  const [after] = 'given' in look ? [latest] : await store.listOperations(env.name, service, 1);
  if (after && (after.id !== latest?.id || !after.finishedAt)) {
    return { outcome: 'busy', detail: `${after.kind} ${after.id} started`, requeueAfterMs: 0 };
  }

  const observed = observation.data.get(service) ?? emptyObservation();
  // Drift needs the inventory only to find the compute serving when none of the record's
  // generation is observed: a sweep reads it for those services alone.
  const inventory =
    sweep && observed.compute.some((compute) => generationOf(compute) === record.generation)
      ? []
      : await store.listResources(env.name, service);
  const views = computeDrift(deps.provider, env, revision.spec, record.generation, observed, inventory);
  const drifted = views.filter((view) => view.state !== 'ok');
  const actionable = drifted.filter((view) => view.state !== 'unhealthy');
  await remember(deps, service, memory, drifted, policy, observation.at);

  if (actionable.length === 0) {
    memory.failures = 0;
    memory.retryAt = 0;
    memory.lastError = null;
    return drifted.length
      ? { outcome: 'unhealthy', detail: describeDrift(driftItems(drifted)) }
      : { outcome: 'in-sync', detail: 'in sync' };
  }
  const described = describeDrift(driftItems(actionable));
  if (policy === 'report') return { outcome: 'reported', detail: `${described} (policy report)` };
  if (latest?.status === 'failed' && latest.kind !== 'repair' && latest.params.noRollback) {
    return {
      outcome: 'held',
      detail: `${described}; left alone: the last ${latest.kind} failed with --no-rollback (deploy or roll back to resume repairs)`,
    };
  }
  const now = deps.now();
  if (now < memory.retryAt) {
    return {
      outcome: 'backing-off',
      detail: `${described}; repair failing (${memory.failures} attempt(s), last: ${memory.lastError}); next attempt in ${Math.ceil((memory.retryAt - now) / 1000)}s`,
      requeueAfterMs: memory.retryAt - now,
    };
  }
  return { action: 'repair', memory, actionable, described };
}

export async function reconcile(deps: ReconcileDeps, key: string, addedAt: number): Promise<ReconcileResult> {
  if (key === ENVIRONMENT_KEY) return reconcileOrphans(deps, addedAt);
  const service = key;
  const decided = await examine(deps, service, { minAt: addedAt });
  if (!('action' in decided)) return decided;
  if (decided.action === 'resume') {
    const { active } = decided;
    // Its runner is gone: finishing it is what any next command would do first.
    try {
      const finished = await deps.engine.finishInterrupted(service, { wait: false });
      return {
        outcome: 'resumed',
        detail: `resumed the interrupted ${active.kind} ${active.id}: ${finished?.status ?? 'gone'}`,
        requeueAfterMs: 0,
      };
    } catch (error) {
      if (error instanceof ActiveOperationError) return { outcome: 'busy', detail: error.message };
      throw error;
    }
  }

  const { memory, actionable, described } = decided;
  const now = deps.now();
  const firstSeenAt = Math.min(
    ...driftItems(actionable).map((item) => memory.items.get(itemId(item))?.firstSeenAt ?? now),
  );
  let operation: OperationRecord;
  try {
    memory.repairedByUs = true;
    ({ operation } = await deps.engine.repair(service, {
      drift: actionable,
      firstSeenAt: new Date(firstSeenAt).toISOString(),
    }));
  } catch (error) {
    if (error instanceof ActiveOperationError) {
      return { outcome: 'busy', detail: error.message, requeueAfterMs: 0 };
    }
    return failed(deps, memory, described, errorMessage(error));
  }
  if (operation.status === 'succeeded') {
    memory.failures = 0;
    memory.retryAt = 0;
    memory.lastError = null;
    // Look again at once: the next observation (after this repair) confirms it or shows what is left.
    return { outcome: 'repaired', detail: `repaired ${described}`, requeueAfterMs: 0 };
  }
  return failed(deps, memory, described, operation.error ?? `repair ${operation.status}`);
}

/** The bulk read of a sweep, and when it began (see sweep()). */
export interface StateRead {
  states: ServiceSweepState[];
  /** Epoch ms: when the read began. */
  startedAt: number;
}

/** Operations created this long before the read began still count as "after" it (clock skew). */
const CREATED_MARGIN_MS = 60_000;

/** The newest operations of the environment looked at to tell what began after the read. */
const RECENT_OPERATIONS = 25;

/**
 * The read, and the services whose newest operation is not the one it read, because an operation
 * began after it (it ran while the environment was observed): one short listing of the
 * environment's newest operations. When that many began since, the state is read again instead
 * (the observation is over by now, so nothing can have begun unseen).
 */
async function operationsSince(
  deps: ReconcileDeps,
  read: StateRead,
): Promise<{ states: ServiceSweepState[]; changed: Map<string, OperationRecord> }> {
  const recent = await deps.store.listOperations(deps.env.name, undefined, RECENT_OPERATIONS);
  const since = read.startedAt - CREATED_MARGIN_MS;
  const fresh = recent.filter((op) => Date.parse(op.createdAt) >= since);
  if (fresh.length === RECENT_OPERATIONS) {
    return { states: await deps.store.readEnvironment(deps.env.name), changed: new Map() };
  }
  const latestOf = new Map(read.states.map((state) => [state.record.name, state.latestOperation?.id]));
  const changed = new Map<string, OperationRecord>();
  for (const op of fresh) {
    if (latestOf.get(op.service) !== op.id && !changed.has(op.service)) changed.set(op.service, op);
  }
  return { states: read.states, changed };
}

/**
 * One detection pass: observes the environment (`observe`) and, at the same time, reads berth's
 * state in bulk, then examines every service (detect). The read overlaps the observation, whose
 * time is mostly spent waiting within AWS's rate limits; an operation that begins after the read
 * is found by one short listing afterwards, and its service is looked at again. Null when
 * `proceed` says no once both are done.
 */
export async function sweep(
  deps: ReconcileDeps,
  observe: () => Promise<Observation>,
  proceed: () => boolean = () => true,
): Promise<{ observation: Observation; detected: Detected[] } | null> {
  const startedAt = deps.now();
  const reading = deps.store.readEnvironment(deps.env.name);
  reading.catch(() => undefined); // awaited below, unless observing fails first
  const observation = await observe();
  const states = await reading;
  // Asked before anything is recorded (a reconciler that lost its lease meanwhile stops here).
  if (!proceed()) return null;
  return { observation, detected: await detect(deps, observation, { states, startedAt }) };
}

/** What detection decided for one key: an outcome, and/or work for a worker (after `workAfterMs`). */
export interface Detected {
  key: string;
  result: ReconcileResult | null;
  /** Queue the key for a worker after this long (a repair or resume, or a look with a newer observation). */
  workAfterMs: number | null;
  /** Why this key could not be examined (it is left to the next pass). */
  error?: unknown;
}

/**
 * Detection, apart from repairs: one observation of the environment, examined for every service at
 * once, so that every drift it shows is recorded (`drift.seen`) as soon as it is observed, however
 * many repairs are running. It acts on nothing: the keys that need a repair (or a resume, or
 * another look) are returned for the workers. Orphans are examined here too.
 */
export async function detect(
  deps: ReconcileDeps,
  observation: Observation,
  read?: StateRead,
): Promise<Detected[]> {
  // Everything the examination needs of every service, in one bulk read (a few store calls for
  // the whole environment: on DynamoDB these count against the sweep's AWS calls), made after the
  // observation began (see sweep()) or now.
  const { states, changed } = read
    ? await operationsSince(deps, read)
    : {
        states: await deps.store.readEnvironment(deps.env.name),
        changed: new Map<string, OperationRecord>(),
      };
  const byName = new Map(states.map((state) => [state.record.name, state]));
  const keys = new Set(byName.keys());
  // Services berth no longer records but still remembers (deleted): let them be forgotten.
  for (const key of deps.remembered()) if (key !== ENVIRONMENT_KEY) keys.add(key);
  // In time slices: the API shares this event loop, and a synchronous store never yields by itself.
  const detected = await forEachSliced([...keys], DETECT_CONCURRENCY, async (key): Promise<Detected> => {
    try {
      const started = changed.get(key);
      // An operation began after the state was read: the observation may show its middle.
      if (started) {
        return {
          key,
          result: { outcome: 'busy', detail: `${started.kind} ${started.id} started`, requeueAfterMs: 0 },
          workAfterMs: 0,
        };
      }
      const decided = await examine(deps, key, { given: observation, state: byName.get(key) ?? null });
      if ('action' in decided) return { key, result: null, workAfterMs: 0 };
      return { key, result: decided, workAfterMs: decided.requeueAfterMs ?? null };
    } catch (error) {
      // This key could not be looked at (the store failed): the others still are.
      return { key, result: null, workAfterMs: null, error };
    }
  });
  const orphans = await reconcileOrphans(deps, observation.at, observation, new Set(byName.keys()));
  return [...detected, { key: ENVIRONMENT_KEY, result: orphans, workAfterMs: null }];
}

function failed(
  deps: ReconcileDeps,
  memory: ServiceMemory,
  described: string,
  error: string,
): ReconcileResult {
  memory.failures += 1;
  memory.lastError = error;
  const delay = Math.min(deps.repairBackoff.maxMs, deps.repairBackoff.baseMs * 2 ** (memory.failures - 1));
  memory.retryAt = deps.now() + delay;
  return {
    outcome: 'repair-failed',
    detail: `${described}; repair failed (${memory.failures} attempt(s)): ${error}; next attempt in ${Math.ceil(delay / 1000)}s`,
    requeueAfterMs: delay,
  };
}

/**
 * Records drift as it is first seen (one `drift.seen` event listing what is new or changed) and
 * as it goes away (`drift.cleared`, when no repair of ours cleared it). Seeing the same drift
 * again records nothing, so a drift that lasts does not flood the event log.
 */
async function remember(
  deps: ReconcileDeps,
  service: string,
  memory: ServiceMemory,
  drifted: ResourceView[],
  policy: DriftPolicy,
  observedAt: number,
): Promise<void> {
  // Detection and workers look concurrently: an older picture must not undo what a newer one
  // recorded (that would record the same drift twice).
  if (observedAt < memory.observedAt) return;
  memory.observedAt = observedAt;
  const now = deps.now();
  const current = new Map(driftItems(drifted).map((item) => [itemId(item), item]));
  const fresh: DriftItem[] = [];
  for (const [id, item] of current) {
    const known = memory.items.get(id);
    const signature = signatureOf(item);
    if (!known || known.signature !== signature) {
      fresh.push(item);
      memory.items.set(id, { firstSeenAt: known?.firstSeenAt ?? now, signature, item });
    }
  }
  const hadDrift = memory.items.size > 0;
  for (const id of [...memory.items.keys()]) if (!current.has(id)) memory.items.delete(id);
  if (fresh.length > 0) {
    const firstSeenAt = new Date(
      Math.min(...[...memory.items.values()].map((entry) => entry.firstSeenAt)),
    ).toISOString();
    const action =
      policy === 'report'
        ? 'policy report: not repairing'
        : fresh.every((i) => i.state === 'unhealthy')
          ? 'reported'
          : 'repairing';
    await deps.emit({
      env: deps.env.name,
      service,
      operationId: null,
      type: 'drift.seen',
      message: `drift: ${describeDrift(fresh)} (${action})`,
      data: {
        items: fresh,
        all: [...current.values()],
        firstSeenAt,
        observedAt: new Date(observedAt).toISOString(),
        policy,
      },
    });
  } else if (hadDrift && current.size === 0 && !memory.repairedByUs) {
    await deps.emit({
      env: deps.env.name,
      service,
      operationId: null,
      type: 'drift.cleared',
      message: `${service} is in sync again (changed by someone else, not by a repair)`,
      data: { observedAt: new Date(observedAt).toISOString() },
    });
  }
  if (current.size === 0) memory.repairedByUs = false;
}

/**
 * Resources tagged as berth's in this environment whose service berth has no record of. They are
 * only reported (once each): deleting them automatically would turn a lost state file into a
 * deleted environment. `berth orphans --delete` or `--adopt` acts on them.
 */
async function reconcileOrphans(
  deps: ReconcileDeps,
  addedAt: number,
  given?: Observation,
  services?: Set<string>,
): Promise<ReconcileResult> {
  const { store, env } = deps;
  const observation = given ?? (await deps.observe(addedAt));
  const known = services ?? new Set((await store.listServices(env.name)).map((record) => record.name));
  const memory = deps.memory(ENVIRONMENT_KEY);
  const found = new Map<string, DriftItem & { service: string }>();
  for (const [service, kinds] of observation.data) {
    if (known.has(service)) continue;
    // Deleted (or created) while we observed: not an orphan, just a picture of that moment.
    const [latest] = service ? await store.listOperations(env.name, service, 1) : [];
    if (latest && (!latest.finishedAt || Date.parse(latest.finishedAt) >= observation.at)) continue;
    for (const kind of RESOURCE_KINDS) {
      for (const resource of kinds[kind]) {
        found.set(resource.providerId, {
          kind,
          key: resource.key,
          providerId: resource.providerId,
          state: 'orphaned',
          fields: [],
          service: resource.tags[TAG_SERVICE] ?? '',
        });
      }
    }
  }
  const now = deps.now();
  const fresh = [...found.values()].filter((item) => !memory.items.has(item.providerId ?? ''));
  for (const id of [...memory.items.keys()]) if (!found.has(id)) memory.items.delete(id);
  for (const item of fresh) {
    memory.items.set(item.providerId ?? '', { firstSeenAt: now, signature: '', item });
  }
  const byService = new Map<string, DriftItem[]>();
  for (const item of fresh) byService.set(item.service, [...(byService.get(item.service) ?? []), item]);
  for (const [service, items] of byService) {
    await deps.emit({
      env: env.name,
      service: service || null,
      operationId: null,
      type: 'drift.seen',
      message: `orphaned: ${describeDrift(items)}, tagged for ${service ? `service "${service}"` : 'no service'}, which berth has no record of (see berth orphans --env ${env.name})`,
      data: { items, orphans: true, firstSeenAt: new Date(now).toISOString() },
    });
  }
  return found.size
    ? {
        outcome: 'orphans',
        detail: `${found.size} orphaned resource(s) (reported, never removed automatically)`,
      }
    : { outcome: 'in-sync', detail: 'no orphans' };
}
