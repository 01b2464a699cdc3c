/**
 * The reconciler: notices drift (a missing, changed, unhealthy or orphaned piece) within seconds
 * and repairs it (policy heal) or reports it (policy report). See startReconciler.
 */
export { startReconciler } from './reconciler.js';
export type { Reconciler, ReconcilerOptions, ReconcilerStatus, ServiceReconcileState } from './reconciler.js';
export { ENVIRONMENT_KEY, effectivePolicy, type ReconcileOutcome } from './reconcile.js';
export { defaultResyncMs } from './sources.js';
export { WorkQueue } from './queue.js';
