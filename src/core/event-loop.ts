/**
 * Long loops in the control plane's process (a reconciler pass over every service, a refresh of the
 * services list) share one event loop with the API. With the synchronous SQLite store, awaiting a
 * store call never lets anything else run (it resolves in a microtask), so a loop over 1,000
 * services is one block of a quarter of a second, and every request waits for it. These helpers
 * let such loops give the event loop a turn.
 */

/** Resolves once pending I/O (requests, timers) had its turn: `setImmediate`, not a microtask. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** How long a loop may hold the event loop before it yields, by default. */
export const DEFAULT_SLICE_MS = 5;

/**
 * A time budget for a loop: between items, `while (slicer.due()) await slicer.turn();` yields only
 * once the loop ran `budgetMs` since its last yield, so that cheap items cost no extra turns of the
 * event loop and expensive ones never hold it for long. Concurrent lanes of one loop share the
 * budget: those that find it spent wait for the same turn, and then share the next budget, each
 * looking again before it goes on (were each to yield on its own, all of them would resume in the
 * same turn, each with a budget of its own). `due` is synchronous so that a lane that goes on
 * starts its item before the next lane looks.
 */
export interface TimeSlicer {
  /** The budget is spent (or a turn is already awaited): wait for `turn()` before the next item. */
  due(): boolean;
  /** The next turn of the event loop, shared by every lane that waits for it. */
  turn(): Promise<void>;
}

export function timeSlicer(budgetMs = DEFAULT_SLICE_MS): TimeSlicer {
  let sliceStart = performance.now();
  let turn: Promise<void> | null = null;
  return {
    due: () => turn !== null || performance.now() - sliceStart >= budgetMs,
    turn: () =>
      (turn ??= yieldToEventLoop().then(() => {
        turn = null;
        sliceStart = performance.now();
      })),
  };
}

/**
 * `work` for every item, at most `concurrency` at once (a store with real I/O, such as DynamoDB,
 * still sees parallel calls), yielding to the event loop whenever the time slice is spent (a
 * synchronous store never holds it for long: one turn runs for about `budgetMs`, or for the
 * `concurrency` items started together when they take longer). Results are in the order of `items`.
 */
export async function forEachSliced<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
  budgetMs = DEFAULT_SLICE_MS,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const slicer = timeSlicer(budgetMs);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      while (slicer.due()) await slicer.turn();
      if (next >= items.length) return;
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  return results;
}
