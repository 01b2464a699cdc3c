import { describe, expect, it } from 'vitest';
import { forEachSliced } from '../../src/core/event-loop.js';

/** Work that holds the event loop like a synchronous store call does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe('forEachSliced', () => {
  it('lets timers and I/O run while a long loop over synchronous work goes on', async () => {
    let timerRanAfter = -1;
    let done = 0;
    setTimeout(() => (timerRanAfter = done), 0);
    const results = await forEachSliced(
      Array.from({ length: 60 }, (_, i) => i),
      4,
      async (item) => {
        busy(1);
        done += 1;
        return item * 2;
      },
    );
    expect(results).toEqual(Array.from({ length: 60 }, (_, i) => i * 2));
    // The timer ran in the middle of the loop, not after it.
    expect(timerRanAfter).toBeGreaterThan(0);
    expect(timerRanAfter).toBeLessThan(60);
  });

  it('holds the event loop for one time budget per turn, however many items run at once', async () => {
    // A timer counts the turns of the event loop; each item notes the turn it ran in.
    let turn = 0;
    const ticker = setInterval(() => (turn += 1), 1);
    const perTurn = new Map<number, number>();
    await forEachSliced(
      Array.from({ length: 200 }, (_, i) => i),
      16,
      async () => {
        busy(1);
        perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
      },
      5,
    );
    clearInterval(ticker);
    // About 5 items of 1 ms per 5 ms budget; 16 lanes with a budget each would run 80.
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(12);
    expect(perTurn.size).toBeGreaterThan(10);
  });

  it('keeps the order of the items and runs at most `concurrency` at once', async () => {
    let running = 0;
    let most = 0;
    const results = await forEachSliced([5, 1, 4, 2, 3], 2, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, item));
      running -= 1;
      return `item ${item}`;
    });
    expect(results).toEqual(['item 5', 'item 1', 'item 4', 'item 2', 'item 3']);
    expect(most).toBe(2);
  });

  it('handles no items', async () => {
    expect(await forEachSliced([], 8, async () => 1)).toEqual([]);
  });
});
