import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/reconciler/queue.js';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WorkQueue', () => {
  it('hands out a key once however often it is added', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(queue.length).toBe(2);
    expect((await queue.get())?.key).toBe('a');
    expect((await queue.get())?.key).toBe('b');
    expect(queue.length).toBe(0);
  });

  it('never hands a key to two workers at once; an add while processing queues it again after done', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    const first = await queue.get();
    queue.add('a');
    let second: string | null = null;
    void queue.get().then((item) => (second = item?.key ?? null));
    await tick(20);
    expect(second).toBeNull();
    queue.done(first!.key);
    await tick(20);
    expect(second).toBe('a');
    queue.shutDown();
  });

  it('keeps the earlier due time when a key is added with different delays', async () => {
    const queue = new WorkQueue();
    queue.add('a', 10_000);
    queue.add('a', 0);
    const started = Date.now();
    expect((await queue.get())?.key).toBe('a');
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('backs off per key, doubling, capped, and forgets on success', () => {
    const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 350 });
    expect(queue.addRateLimited('a')).toBe(100);
    expect(queue.addRateLimited('a')).toBe(200);
    expect(queue.addRateLimited('a')).toBe(350);
    expect(queue.addRateLimited('b')).toBe(100);
    expect(queue.failuresOf('a')).toBe(3);
    queue.forget('a');
    expect(queue.addRateLimited('a')).toBe(100);
    queue.shutDown();
  });

  it('waits for a delayed key, and reports when it was added', async () => {
    const queue = new WorkQueue();
    const before = Date.now();
    queue.add('a', 60);
    const item = await queue.get();
    expect(Date.now() - before).toBeGreaterThanOrEqual(55);
    expect(item?.addedAt).toBeGreaterThanOrEqual(before);
  });

  it('keeps the latest world time a key was added for (an observation already in hand will do)', async () => {
    const queue = new WorkQueue();
    queue.add('a', 0, 1_000);
    queue.add('a', 0, 500);
    expect((await queue.get())?.addedAt).toBe(1_000);
    queue.add('b', 0, 2_000);
    queue.add('b');
    expect((await queue.get())?.addedAt).toBeGreaterThan(2_000);
    queue.shutDown();
  });

  it('wakes waiting workers with null on shutdown', async () => {
    const queue = new WorkQueue();
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeNull();
    queue.add('a');
    expect(await queue.get()).toBeNull();
  });
});
