import type { ObservedResource } from '../providers/provider.js';
import type { ResourceKind, StateStore } from '../state/store.js';

/** Records what now exists of one kind for a service, and forgets what was removed. */
export async function syncInventory(
  store: StateStore,
  env: string,
  service: string,
  kind: ResourceKind,
  kept: ObservedResource[],
  generation: number,
  removed: ObservedResource[],
): Promise<void> {
  for (const resource of kept) {
    await store.putResource({
      env,
      service,
      kind,
      providerId: resource.providerId,
      generation,
      attributes: resource.attributes,
    });
  }
  for (const resource of removed) await store.deleteResource(env, service, kind, resource.providerId);
}
