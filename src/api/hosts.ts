/**
 * What runs beside the API in the control plane process: the reconciler (src/reconciler), one
 * per environment in the config, whatever its provider, told about every write the API makes so
 * that it looks at the service at once rather than at its next resync.
 *
 * Every `berth up` sharing a state store starts the same reconcilers; each environment's lease in
 * the store decides which one acts (the others stand by and take over when it dies or stops).
 */
import { errorMessage } from '../core/errors.js';
import { startReconciler, type Reconciler, type ReconcilerStatus } from '../reconciler/index.js';
import type { ControlPlane } from './control-plane.js';

export interface ControlPlaneHosts {
  /** A write through the API changed this service. */
  enqueue(env: string, service: string): void;
  /** The reconcilers running in this process (leaders and standbys). */
  reconcilers(): ReconcilerStatus[];
  /** Stops every reconciler and releases its lease, so that a peer takes over at once. */
  /** Stops every reconciler, waiting at most `waitMs` for repairs under way (see Reconciler.stop). */
  stop(waitMs?: number): Promise<void>;
}

export interface HostOptions {
  /** How long an environment lease lasts without renewal (default: the reconciler's, 15 s). */
  leaseTtlMs?: number;
  /** How long to wait before trying again to open an environment that could not be opened. */
  retryOpenMs?: number;
}

/**
 * Starts a reconciler for each environment. One whose provider or store cannot be opened yet
 * (credentials, an endpoint that is down) is logged and tried again later: the API stays useful
 * without it, and the environment is reconciled once it can be.
 */
export async function startControlPlaneHosts(
  plane: ControlPlane,
  options: HostOptions = {},
): Promise<ControlPlaneHosts> {
  const reconcilers = new Map<string, Reconciler>();
  const retryOpenMs = options.retryOpenMs ?? 15_000;
  let stopped = false;
  const retries = new Set<NodeJS.Timeout>();

  const start = async (name: string, attempt: number): Promise<void> => {
    if (stopped) return;
    try {
      const open = await plane.open(name);
      if (stopped) return;
      reconcilers.set(
        name,
        startReconciler({
          store: open.store,
          provider: open.provider,
          env: open.env,
          leaseTtlMs: options.leaseTtlMs,
          resyncMs: open.env.resyncMs,
          onEvent: (event) => plane.publish(event),
          onError: (key, error) => plane.log(`reconciler ${name}/${key}: ${errorMessage(error)}`),
        }),
      );
      if (attempt > 0) plane.log(`reconciler for ${name} started`);
    } catch (error) {
      const delay = Math.min(retryOpenMs * 2 ** Math.min(attempt, 3), 5 * 60_000);
      if (attempt === 0 || attempt % 10 === 0) {
        plane.log(
          `no reconciler for ${name} yet: ${errorMessage(error)} (trying again every ${Math.round(delay / 1000)}s)`,
        );
      }
      const timer = setTimeout(() => {
        retries.delete(timer);
        void start(name, attempt + 1);
      }, delay);
      timer.unref();
      retries.add(timer);
    }
  };
  await Promise.all(Object.keys(plane.config.environments).map((name) => start(name, 0)));

  return {
    enqueue: (env, service) => reconcilers.get(env)?.enqueue(service),
    reconcilers: () => [...reconcilers.values()].map((reconciler) => reconciler.status()),
    async stop(waitMs) {
      stopped = true;
      for (const timer of retries) clearTimeout(timer);
      await Promise.allSettled([...reconcilers.values()].map((reconciler) => reconciler.stop(waitMs)));
    },
  };
}
