/**
 * The services list of an environment (GET /v1/envs/{env}/services), served from a snapshot
 * rather than computed per request. Computing every status means one observation of the provider
 * plus several store reads per service: about 0.3 s for 1,000 services, during which the
 * synchronous store holds up every other request. Here:
 *
 * - a snapshot holds every service's status; it is refreshed from a new observation of the
 *   environment in the background once it is older than `refreshAfterMs` (before answering when
 *   older than `maxAgeMs`, or when there is none);
 * - a refresh recomputes only the services whose observed resources or service record differ from
 *   the snapshot's (the others keep their status, now observed at the new time), and all of them
 *   every `fullEveryMs`; it works in slices, between which the process serves other requests;
 * - a service this process stored an event for (every step, drift, repair of it) since its status
 *   was computed is recomputed before answering, from a fresh observation of that service alone.
 *
 * Every status carries the time of the observation it stands for (`observedAt`); its age
 * (`observedAgeMs`) is computed when it is served, so how fresh the list is stays visible.
 */
import { TAG_SERVICE } from '../core/tags.js';
import { emptyObservation, observeEnvironment, type EnvironmentObservation } from '../engine/drift.js';
import { environmentStatus, type ServiceStatus } from '../engine/status.js';
import { RESOURCE_KINDS, type ServiceRecord, type StateStore } from '../state/store.js';
import type { OpenEnv } from './control-plane.js';

export interface ServiceListingOptions {
  /** Refresh in the background a snapshot older than this. Default 5 s (the local reconciler's resync). */
  refreshAfterMs?: number;
  /** Refresh before answering when the snapshot is older than this. Default 15 s. */
  maxAgeMs?: number;
  /** Recompute every service (not only those that differ) at least this often. Default 60 s. */
  fullEveryMs?: number;
  /** Services handled per slice of a refresh. Default 10. */
  sliceSize?: number;
  /** More changed services than this make a refresh (else each is observed alone). Default 20. */
  maxChangedObservedAlone?: number;
  /** Problems of a background refresh (the next request retries it). */
  log?: (message: string) => void;
}

interface Entry {
  /** As computed; its own observedAt/observedAgeMs are not served (see `observedAt`). */
  status: ServiceStatus;
  /** The observation this status stands for. */
  observedAt: string;
  /** What was observed for the service (JSON), and its record's version, when it was computed. */
  observed: string;
  version: number;
}

interface Snapshot {
  /** By name, in name order. */
  entries: Map<string, Entry>;
  /** When the observation of the last refresh started. */
  at: number;
}

interface EnvListing {
  snapshot: Snapshot | null;
  refreshing: Promise<Snapshot> | null;
  lastFullAt: number;
  /** Service -> when this process last stored an event about it. */
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

function observedJson(data: EnvironmentObservation, service: string): string {
  return JSON.stringify(data.get(service) ?? emptyObservation());
}

/** The same map in name order (the order the store lists services in). */
function byName(entries: Map<string, Entry>): Map<string, Entry> {
  return new Map([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');
const fragments = new WeakMap<ServiceStatus, Buffer>();

/** A status as JSON without its observation time, age and closing brace: `{"env":…,`. */
function fragment(status: ServiceStatus): Buffer {
  let cached = fragments.get(status);
  if (!cached) {
    const json = JSON.stringify({ ...status, observedAt: undefined, observedAgeMs: undefined });
    cached = Buffer.from(`${json.slice(0, -1)}${json.length > 2 ? ',' : ''}`);
    fragments.set(status, cached);
  }
  return cached;
}

const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ServiceListing {
  private readonly envs = new Map<string, EnvListing>();
  private readonly refreshAfterMs: number;
  private readonly maxAgeMs: number;
  private readonly fullEveryMs: number;
  private readonly sliceSize: number;
  private readonly maxChangedObservedAlone: number;

  constructor(private readonly options: ServiceListingOptions = {}) {
    this.refreshAfterMs = options.refreshAfterMs ?? 5_000;
    this.maxAgeMs = options.maxAgeMs ?? 15_000;
    this.fullEveryMs = options.fullEveryMs ?? 60_000;
    this.sliceSize = Math.max(1, options.sliceSize ?? 10);
    this.maxChangedObservedAlone = options.maxChangedObservedAlone ?? 20;
  }

  /** Something about `service` changed (an event, a write): recompute it before it is served next. */
  changed(env: string, service: string): void {
    this.listing(env).changed.set(service, Date.now());
  }

  /** Every service's status, in name order. */
  async list(open: OpenEnv): Promise<ServiceStatus[]> {
    const snapshot = await this.current(open);
    const now = Date.now();
    return [...snapshot.entries.values()].map(({ status, observedAt }) => ({
      ...status,
      observedAt,
      observedAgeMs: Math.max(0, now - Date.parse(observedAt)),
    }));
  }

  /**
   * The same list as JSON, ready to send: each status is serialized once, and only its observation
   * time and age are written per request (serializing 1,000 statuses, about 1 MB, is most of the
   * cost of a request).
   */
  async listJson(open: OpenEnv): Promise<Buffer> {
    const snapshot = await this.current(open);
    const now = Date.now();
    const tails = new Map<string, Buffer>();
    const parts: Buffer[] = [OPEN];
    for (const { status, observedAt } of snapshot.entries.values()) {
      if (parts.length > 1) parts.push(COMMA);
      let tail = tails.get(observedAt);
      if (!tail) {
        const age = Math.max(0, now - Date.parse(observedAt));
        tail = Buffer.from(`"observedAt":${JSON.stringify(observedAt)},"observedAgeMs":${age}}`);
        tails.set(observedAt, tail);
      }
      parts.push(fragment(status), tail);
    }
    parts.push(CLOSE);
    return Buffer.concat(parts);
  }

  private async current(open: OpenEnv): Promise<Snapshot> {
    const listing = this.listing(open.env.name);
    let snapshot = listing.snapshot;
    const age = snapshot ? Date.now() - snapshot.at : Infinity;
    if (!snapshot || age > this.maxAgeMs || listing.changed.size > this.maxChangedObservedAlone) {
      snapshot = await this.refresh(open, listing);
    } else if (age > this.refreshAfterMs) {
      this.refresh(open, listing).catch((error: unknown) =>
        this.options.log?.(`refreshing the services of ${open.env.name} failed: ${String(error)}`),
      );
    }
    // Services changed during that refresh: many (a reconciler's first pass records an event for
    // each) are cheaper to observe all at once than each alone (four list calls per service), and
    // would flood the provider; when even a second refresh leaves many, they wait for the next one.
    if (listing.changed.size > this.maxChangedObservedAlone) snapshot = await this.refresh(open, listing);
    if (listing.changed.size > 0 && listing.changed.size <= this.maxChangedObservedAlone) {
      snapshot = await this.recomputeChanged(open, listing);
    }
    return snapshot;
  }

  private listing(env: string): EnvListing {
    let listing = this.envs.get(env);
    if (!listing) {
      listing = { snapshot: null, refreshing: null, lastFullAt: 0, changed: new Map() };
      this.envs.set(env, listing);
    }
    return listing;
  }

  /** A new snapshot from one observation of the environment (one refresh at a time). */
  private refresh(open: OpenEnv, listing: EnvListing): Promise<Snapshot> {
    listing.refreshing ??= (async () => {
      try {
        const at = Date.now();
        const observedAt = new Date(at).toISOString();
        const full = at - listing.lastFullAt >= this.fullEveryMs;
        const data = await observeEnvironment(open.provider, open.env.name);
        const records = await open.store.listServices(open.env.name);
        const previous = listing.snapshot?.entries;
        const entries = new Map<string, Entry>();
        const recompute: { record: ServiceRecord; observed: string }[] = [];
        for (let start = 0; start < records.length; start += this.sliceSize * 10) {
          if (start > 0) await yieldToRequests();
          for (const record of records.slice(start, start + this.sliceSize * 10)) {
            const observed = observedJson(data, record.name);
            const before = previous?.get(record.name);
            const seen = listing.changed.get(record.name);
            if (
              !full &&
              before &&
              before.observed === observed &&
              before.version === record.version &&
              (seen === undefined || seen >= at)
            ) {
              entries.set(record.name, { ...before, observedAt });
            } else {
              entries.set(record.name, before ?? (null as unknown as Entry)); // keeps the name order
              recompute.push({ record, observed });
            }
          }
        }
        for (let start = 0; start < recompute.length; start += this.sliceSize) {
          await yieldToRequests();
          const slice = recompute.slice(start, start + this.sliceSize);
          const computed = await environmentStatus(
            storeListing(
              open.store,
              slice.map(({ record }) => record),
            ),
            open.provider,
            open.env,
            undefined,
            { observation: { data, at } },
          );
          slice.forEach(({ record, observed }, index) => {
            entries.set(record.name, {
              status: computed[index]!,
              observedAt,
              observed,
              version: record.version,
            });
          });
        }
        // Events seen before this observation started are in it; later ones stay to recompute.
        for (const [service, seenAt] of listing.changed) {
          if (seenAt < at) listing.changed.delete(service);
        }
        // Services recomputed meanwhile from a newer observation keep that.
        let added = false;
        for (const [name, entry] of listing.snapshot?.entries ?? []) {
          if (Date.parse(entry.observedAt) <= at) continue;
          added ||= !entries.has(name);
          entries.set(name, entry);
        }
        if (full) listing.lastFullAt = at;
        listing.snapshot = { entries: added ? byName(entries) : entries, at };
        return listing.snapshot;
      } finally {
        listing.refreshing = null;
      }
    })();
    return listing.refreshing;
  }

  /** The changed services, from a fresh observation of them, into the snapshot. */
  private async recomputeChanged(open: OpenEnv, listing: EnvListing): Promise<Snapshot> {
    const changed = [...listing.changed];
    const names = changed.map(([service]) => service);
    const at = Date.now();
    const observedAt = new Date(at).toISOString();
    const data = await observeServices(open, names);
    const records = (
      await Promise.all(names.map((name) => open.store.getService(open.env.name, name)))
    ).filter((record): record is ServiceRecord => record?.status === 'active');
    const computed = await environmentStatus(
      storeListing(open.store, records),
      open.provider,
      open.env,
      undefined,
      { observation: { data, at } },
    );
    for (const [service, seenAt] of changed) {
      if (listing.changed.get(service) === seenAt) listing.changed.delete(service);
    }
    // Into the newest snapshot (a refresh may have finished meanwhile), unless it saw more.
    const base = listing.snapshot!;
    const entries = new Map(base.entries);
    let added = false;
    for (const name of names) {
      const current = entries.get(name);
      if (current && Date.parse(current.observedAt) > at) continue;
      const index = records.findIndex((record) => record.name === name);
      if (index < 0) entries.delete(name);
      else {
        added ||= !current;
        entries.set(name, {
          status: computed[index]!,
          observedAt,
          observed: observedJson(data, name),
          version: records[index]!.version,
        });
      }
    }
    listing.snapshot = { entries: added ? byName(entries) : entries, at: base.at };
    return listing.snapshot;
  }
}
