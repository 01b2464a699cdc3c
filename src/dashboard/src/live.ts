/**
 * The live picture of one environment: every service's status, kept current from the
 * environment's event stream. An event for a service refetches that service's status (debounced
 * and coalesced), never the whole list; a burst touching many services refetches the list once.
 */
import { ApiError, envPath, follow, get, type Connection } from './api';
import type { BerthEvent, ServiceStatus } from './types';

const DEBOUNCE_MS = 250;
/** More services than this waiting for a refetch: one list call instead. */
const BURST = 25;
const FULL_REFRESH_MS = 30_000;

/** A drift the reconciler reported and has not yet reported repaired or cleared. */
export interface OpenDrift {
  since: string;
  message: string;
}

const DRIFT_STATES = ['missing', 'modified', 'orphaned'];

export class EnvLive {
  services = new Map<string, ServiceStatus>();
  drift = new Map<string, OpenDrift>();
  connection: Connection = 'connecting';
  loaded = false;
  error: ApiError | null = null;
  /** Bumped on every change, so that views can memoize on it. */
  version = 0;
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<(event: BerthEvent) => void>();
  private readonly pending = new Set<string>();
  private readonly requestSeq = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopFollow: () => void = () => undefined;
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(readonly env: string) {}

  async start(): Promise<void> {
    try {
      // The cursor first, then the list: nothing that happens in between is missed.
      const [last] = await get<BerthEvent[]>(`${envPath(this.env, 'events')}?limit=1`);
      await this.refreshAll();
      if (this.stopped) return;
      this.stopFollow = follow(
        envPath(this.env, 'events'),
        last?.seq ?? 0,
        (event) => this.onEvent(event),
        (state) => {
          this.connection = state;
          this.changed();
        },
      );
      this.refreshTimer = setInterval(() => void this.refreshAll().catch(() => undefined), FULL_REFRESH_MS);
    } catch (error) {
      this.error =
        error instanceof ApiError
          ? error
          : new ApiError(0, { error: 'bug', message: String(error), details: [], hint: null });
      this.loaded = true;
      this.changed();
    }
  }

  stop(): void {
    this.stopped = true;
    this.stopFollow();
    if (this.timer) clearTimeout(this.timer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onEvents(listener: (event: BerthEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  async refreshAll(): Promise<void> {
    const list = await get<ServiceStatus[]>(envPath(this.env, 'services'));
    this.services = new Map(list.map((status) => [status.name, status]));
    this.loaded = true;
    this.error = null;
    this.changed();
  }

  /** Refetches one service's status soon (several events in a row: once). */
  refresh(service: string): void {
    this.pending.add(service);
    this.timer ??= setTimeout(() => this.flush(), DEBOUNCE_MS);
  }

  private onEvent(event: BerthEvent): void {
    if (event.service) {
      if (event.type === 'drift.seen') {
        const items = (event.data?.items ?? []) as { state?: string }[];
        if (items.some((item) => DRIFT_STATES.includes(String(item.state)))) {
          this.drift.set(event.service, { since: event.time, message: event.message });
        }
      } else if (event.type === 'drift.repaired' || event.type === 'drift.cleared') {
        this.drift.delete(event.service);
      }
      this.refresh(event.service);
    }
    for (const listener of this.eventListeners) listener(event);
    this.changed();
  }

  private flush(): void {
    this.timer = null;
    const names = [...this.pending];
    this.pending.clear();
    if (names.length > BURST) {
      void this.refreshAll().catch(() => undefined);
      return;
    }
    for (const name of names) void this.refreshOne(name);
  }

  private async refreshOne(name: string): Promise<void> {
    const seq = (this.requestSeq.get(name) ?? 0) + 1;
    this.requestSeq.set(name, seq);
    let status: ServiceStatus | null;
    try {
      status = await get<ServiceStatus | null>(envPath(this.env, 'services', name));
    } catch {
      return;
    }
    // An older answer that arrives after a newer one must not undo it.
    if (this.requestSeq.get(name) !== seq || this.stopped) return;
    const next = new Map(this.services);
    if (status?.name) next.set(name, status);
    else next.delete(name);
    this.services = next;
    this.changed();
  }

  private changed(): void {
    this.version += 1;
    for (const listener of this.listeners) listener();
  }
}
