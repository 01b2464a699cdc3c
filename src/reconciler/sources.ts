/**
 * Sources only put keys on the queue; they never decide anything. Three of them:
 * - a periodic resync with jitter (every key, so that nothing depends on an event arriving),
 * - the provider's change feed, when it has one (the local runtime's long poll),
 * - API writes, through the reconciler's `enqueue(service)`.
 */
import type { Provider } from '../providers/provider.js';

/** Default resync period: the local runtime answers list calls in milliseconds; AWS has rate limits. */
export function defaultResyncMs(provider: Provider['name']): number {
  return provider === 'aws' ? 30_000 : 5_000;
}

/**
 * Calls `tick` every `intervalMs`, each period stretched or shrunk by up to `jitter` (a fraction)
 * so that several reconcilers never list in lockstep, until `signal` aborts.
 */
export function periodicResync(
  intervalMs: number,
  tick: () => void,
  signal: AbortSignal,
  jitter = 0.1,
): void {
  let timer: NodeJS.Timeout | null = null;
  const schedule = () => {
    if (signal.aborted) return;
    const delay = intervalMs * (1 + (Math.random() * 2 - 1) * jitter);
    timer = setTimeout(() => {
      tick();
      schedule();
    }, delay);
    timer.unref?.();
  };
  signal.addEventListener('abort', () => timer && clearTimeout(timer), { once: true });
  schedule();
}

/** Follows the provider's change feed, if it has one; `onChange` may be called in bursts. */
export function providerChanges(
  provider: Provider,
  env: string,
  onChange: () => void,
  signal: AbortSignal,
): boolean {
  if (!provider.watch) return false;
  provider.watch(env, onChange, signal);
  return true;
}
