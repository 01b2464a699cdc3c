/**
 * A de-duplicating work queue keyed by string (a service name), like client-go's workqueue:
 * - a key is queued at most once; adding a queued key keeps the earlier due time;
 * - a key is handed to one worker at a time: adding a key while it is being processed marks it to
 *   be queued again once `done` is called, so no change is lost and no key runs twice at once;
 * - `addRateLimited` re-adds after a per-key exponential backoff; `forget` resets it.
 */
export interface WorkQueueOptions {
  /** First backoff of `addRateLimited`. Default 500 ms. */
  baseDelayMs?: number;
  /** Longest backoff. Default 60 s. */
  maxDelayMs?: number;
  now?: () => number;
}

export interface QueueItem {
  key: string;
  /** When the key was last added: work must see the world as it was at least then. */
  addedAt: number;
}

export class WorkQueue {
  private readonly pending = new Map<string, { due: number; addedAt: number }>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Map<string, { due: number; addedAt: number }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;

  constructor(options: WorkQueueOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Queues `key` to be handed out after `delayMs` (0: as soon as a worker is free). `seenAt` is
   * the moment whose world the work must see (default now); an observation started then, already
   * in hand, will do (the reconciler's detection queues keys with the time of its observation).
   */
  add(key: string, delayMs = 0, seenAt?: number): void {
    if (this.closed) return;
    const now = this.now();
    const target = this.processing.has(key) ? this.dirty : this.pending;
    const existing = target.get(key);
    target.set(key, {
      due: Math.min(existing?.due ?? Infinity, now + Math.max(0, delayMs)),
      addedAt: Math.max(existing?.addedAt ?? 0, seenAt ?? now),
    });
    this.notify();
  }

  /** Queues `key` again after its backoff (base x 2^failures, capped) and counts a failure. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** failures);
    this.add(key, delay);
    return delay;
  }

  /** Resets the backoff of `key` (its last run succeeded). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next due key (waiting for one), or null once the queue is shut down. */
  async get(): Promise<QueueItem | null> {
    for (;;) {
      if (this.closed) return null;
      const now = this.now();
      let next: [string, { due: number; addedAt: number }] | null = null;
      for (const entry of this.pending) if (!next || entry[1].due < next[1].due) next = entry;
      if (next && next[1].due <= now) {
        this.pending.delete(next[0]);
        this.processing.add(next[0]);
        return { key: next[0], addedAt: next[1].addedAt };
      }
      await this.waitForChange(next ? next[1].due - now : undefined);
    }
  }

  /** Marks `key` processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    const again = this.dirty.get(key);
    if (again) {
      this.dirty.delete(key);
      const existing = this.pending.get(key);
      this.pending.set(key, {
        due: Math.min(existing?.due ?? Infinity, again.due),
        addedAt: Math.max(existing?.addedAt ?? 0, again.addedAt),
      });
    }
    this.notify();
  }

  /** Keys waiting (not counting those being processed). */
  get length(): number {
    return this.pending.size;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Wakes every waiting `get` with null; later adds are ignored. */
  shutDown(): void {
    this.closed = true;
    this.notify();
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private waitForChange(timeoutMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = timeoutMs === undefined ? null : setTimeout(wake, Math.max(1, timeoutMs));
      this.waiters.add(wake);
    });
  }
}
