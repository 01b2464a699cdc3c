/**
 * What runs beside the API in the control plane process: the reconciler (src/reconciler), one
 * per environment on the local provider, told about every write the API makes so that it looks
 * at the service at once rather than at its next resync.
 */
import { errorMessage } from '../core/errors.js';
import { startReconciler, type Reconciler } from '../reconciler/index.js';
import type { ControlPlane } from './control-plane.js';

export interface ControlPlaneHosts {
  /** A write through the API changed this service. */
  enqueue(env: string, service: string): void;
  stop(): Promise<void>;
}

/**
 * Starts a reconciler for each environment on the local provider. An environment whose provider
 * cannot be opened is logged and skipped: the API stays useful without it.
 */
export async function startControlPlaneHosts(plane: ControlPlane): Promise<ControlPlaneHosts> {
  const reconcilers = new Map<string, Reconciler>();
  for (const env of Object.values(plane.config.environments)) {
    if (env.provider !== 'local') continue;
    try {
      const open = await plane.open(env.name);
      reconcilers.set(
        env.name,
        startReconciler({
          store: open.store,
          provider: open.provider,
          env: open.env,
          onEvent: (event) => plane.publish(event),
          onError: (key, error) => plane.log(`reconciler ${env.name}/${key}: ${errorMessage(error)}`),
        }),
      );
    } catch (error) {
      plane.log(`no reconciler for ${env.name}: ${errorMessage(error)}`);
    }
  }
  return {
    enqueue: (env, service) => reconcilers.get(env)?.enqueue(service),
    async stop() {
      await Promise.allSettled([...reconcilers.values()].map((reconciler) => reconciler.stop()));
    },
  };
}
