/**
 * The services list of an environment (GET /v1/envs/{env}/services), served from a snapshot
 * rather than computed per request. Computing it means one observation of the provider plus
 * several store reads per service: about 0.3 s for 1,000 services, during which a synchronous
 * store blocks every other request. Here:
 *
 * - a snapshot holds every service's status, computed from one observation, in slices between
 *   which the process serves other requests;
 * - a snapshot older than `refreshAfterMs` is refreshed in the background (the request is served
 *   from the current one); one older than `maxAgeMs`, or none, is refreshed before answering;
 * - a service that this process wrote or saw an event for since the snapshot's observation is
 *   recomputed before answering, from a fresh observation of that service alone.
 *
 * Every status keeps the time of the observation it was computed from (`observedAt`), and its age
 * (`observedAgeMs`) is computed when it is served: how fresh the list is stays visible.
 */
import { TAG_SERVICE } from '../core/tags.js';
import { emptyObservation, observeEnvironment, type EnvironmentObservation } from '../engine/drift.js';
import { environmentStatus, type ServiceStatus } from '../engine/status.js';
import { RESOURCE_KINDS, type ServiceRecord, type StateStore } from '../state/store.js';
import type { OpenEnv } from './control-plane.js';

export interface ServiceListingOptions {
  /** Refresh in the background a snapshot older than this. Default 2 s. */
  refreshAfterMs?: number;
  /** Refresh before answering when the snapshot is older than this. Default 10 s. */
  maxAgeMs?: number;
  /** Services computed per slice of a refresh. Default 25. */
  sliceSize?: number;
  /** More changed services than this are recomputed from one observation of the environment. Default 20. */
  maxChangedObservedAlone?: number;
  /** Problems of a background refresh (the next request retries it). */
  log?: (message: string) => void;
}

interface Snapshot {
  /** By name, in name order. */
  statuses: Map<string, ServiceStatus>;
  /** When the observation it was computed from started. */
  at: number;
}

interface EnvListing {
  snapshot: Snapshot | null;
  refreshing: Promise<Snapshot> | null;
  /** Service -> when a change to it was seen (an event or a write through this process). */
  changed: Map<string, number>;
}

/** A store that lists only `records` as the environment's services (one slice of a refresh). */
function storeListing(store: StateStore, records: ServiceRecord[]): StateStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'listServices') return async () => records;
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** What exists for these services only (a list call per kind per service, filtered by tag). */
async function observeServices(open: OpenEnv, services: string[]): Promise<EnvironmentObservation> {
  const byService: EnvironmentObservation = new Map();
  await Promise.all(
    services.map(async (service) => {
      const entry = emptyObservation();
      const lists = await Promise.all(
        RESOURCE_KINDS.map((kind) => open.provider.drivers[kind].observeAll({ env: open.env.name, service })),
      );
      RESOURCE_KINDS.forEach((kind, index) => {
        for (const resource of lists[index]!) {
          if ((resource.tags[TAG_SERVICE] ?? '') === service) entry[kind].push(resource);
        }
      });
      byService.set(service, entry);
    }),
  );
  return byService;
}

const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ServiceListing {
  private readonly envs = new Map<string, EnvListing>();
  private readonly refreshAfterMs: number;
  private readonly maxAgeMs: number;
  private readonly sliceSize: number;
  private readonly maxChangedObservedAlone: number;

  constructor(private readonly options: ServiceListingOptions = {}) {
    this.refreshAfterMs = options.refreshAfterMs ?? 2_000;
    this.maxAgeMs = options.maxAgeMs ?? 10_000;
    this.sliceSize = Math.max(1, options.sliceSize ?? 25);
    this.maxChangedObservedAlone = options.maxChangedObservedAlone ?? 20;
  }

  /** Something about `service` changed (an event, a write): recompute it before it is served next. */
  changed(env: string, service: string): void {
    this.listing(env).changed.set(service, Date.now());
  }

  /** Every service's status, in name order. */
  async list(open: OpenEnv): Promise<ServiceStatus[]> {
    const listing = this.listing(open.env.name);
    let snapshot = listing.snapshot;
    const age = snapshot ? Date.now() - snapshot.at : Infinity;
    if (!snapshot || age > this.maxAgeMs) snapshot = await this.refresh(open, listing);
    else if (age > this.refreshAfterMs) {
      this.refresh(open, listing).catch((error: unknown) =>
        this.options.log?.(`refreshing the services of ${open.env.name} failed: ${String(error)}`),
      );
    }
    if (listing.changed.size > 0) snapshot = await this.recomputeChanged(open, listing, snapshot);
    const now = Date.now();
    const statuses: ServiceStatus[] = [];
    for (const status of snapshot.statuses.values()) {
      statuses.push({ ...status, observedAgeMs: Math.max(0, now - Date.parse(status.observedAt)) });
    }
    return statuses;
  }

  private listing(env: string): EnvListing {
    let listing = this.envs.get(env);
    if (!listing) {
      listing = { snapshot: null, refreshing: null, changed: new Map() };
      this.envs.set(env, listing);
    }
    return listing;
  }

  /** A new snapshot from one observation of the environment (one refresh at a time). */
  private refresh(open: OpenEnv, listing: EnvListing): Promise<Snapshot> {
    listing.refreshing ??= (async () => {
      try {
        const at = Date.now();
        const data = await observeEnvironment(open.provider, open.env.name);
        const records = await open.store.listServices(open.env.name);
        const statuses = new Map<string, ServiceStatus>();
        for (let start = 0; start < records.length; start += this.sliceSize) {
          if (start > 0) await yieldToRequests();
          const slice = records.slice(start, start + this.sliceSize);
          const computed = await environmentStatus(
            storeListing(open.store, slice),
            open.provider,
            open.env,
            undefined,
            { observation: { data, at } },
          );
          for (const status of computed) statuses.set(status.name, status);
        }
        // Changes seen before this observation started are in it; later ones stay to recompute.
        for (const [service, seenAt] of listing.changed) {
          if (seenAt < at) listing.changed.delete(service);
        }
        const snapshot = { statuses, at };
        if (!listing.snapshot || listing.snapshot.at <= at) listing.snapshot = snapshot;
        return listing.snapshot;
      } finally {
        listing.refreshing = null;
      }
    })();
    return listing.refreshing;
  }

  /** The changed services, from a fresh observation of them, into the snapshot. */
  private async recomputeChanged(open: OpenEnv, listing: EnvListing, snapshot: Snapshot): Promise<Snapshot> {
    const changed = [...listing.changed];
    const names = changed.map(([service]) => service);
    const at = Date.now();
    const data =
      names.length > this.maxChangedObservedAlone
        ? await observeEnvironment(open.provider, open.env.name)
        : await observeServices(open, names);
    const records = await Promise.all(names.map((name) => open.store.getService(open.env.name, name)));
    const computed = await environmentStatus(
      storeListing(
        open.store,
        records.filter((record): record is ServiceRecord => record?.status === 'active'),
      ),
      open.provider,
      open.env,
      undefined,
      { observation: { data, at } },
    );
    for (const [service, seenAt] of changed) {
      if (listing.changed.get(service) === seenAt) listing.changed.delete(service);
    }
    // Into the newest snapshot (a refresh may have finished meanwhile), unless it saw more.
    const base = listing.snapshot ?? snapshot;
    const statuses = new Map(base.statuses);
    let added = false;
    for (const name of names) {
      const current = statuses.get(name);
      if (current && Date.parse(current.observedAt) > at) continue;
      const status = computed.find((item) => item.name === name);
      if (!status) statuses.delete(name);
      else {
        added ||= !current;
        statuses.set(name, status);
      }
    }
    const next: Snapshot = {
      statuses: added ? new Map([...statuses].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : statuses,
      at: base.at,
    };
    listing.snapshot = next;
    return next;
  }
}
