import { diffFields } from '../diff.js';
import { managedFilter, type LocalDriverDeps } from './shared.js';
import type { DesiredResource, ObservedResource, ResourceDriver, ResourceHealth } from '../provider.js';
import type { RuntimeService, RuntimeServiceInput } from '../../runtime/types.js';

/** Fields whose change means new replicas; a change of `replicas` alone is a scale in place. */
export const COMPUTE_REPLACE_FIELDS = ['command', 'cwd', 'env', 'secrets', 'health'];
const COMPUTE_FIELDS = [...COMPUTE_REPLACE_FIELDS, 'replicas'];

export function computeHealth(service: RuntimeService): ResourceHealth {
  const healthy = service.replicaStatus.filter((replica) => replica.state === 'healthy').length;
  const states = service.replicaStatus.map((replica) => replica.state).join(', ');
  const detail = `${healthy}/${service.replicas} replicas healthy${states ? ` (${states})` : ''}`;
  if (healthy === service.replicas) return { state: 'healthy', detail };
  if (service.replicaStatus.some((replica) => replica.state === 'starting'))
    return { state: 'progressing', detail };
  return { state: 'unhealthy', detail };
}

function observed(service: RuntimeService): ObservedResource {
  return {
    kind: 'compute',
    providerId: service.id,
    key: 'compute',
    name: service.name,
    attributes: {
      name: service.name,
      command: service.command,
      cwd: service.cwd,
      env: service.env,
      secrets: service.secrets ?? {},
      replicas: service.replicas,
      health: service.health,
    },
    tags: service.tags,
    health: computeHealth(service),
  };
}

/** Compute on the local runtime: a runtime service running `replicas` child processes. */
export function localComputeDriver({ client }: LocalDriverDeps): ResourceDriver {
  return {
    kind: 'compute',
    async observeAll(scope) {
      return (await client.list('services', managedFilter(scope))).map(observed);
    },
    async create(desired) {
      const input = { ...(desired.attributes as unknown as RuntimeServiceInput), tags: desired.tags };
      return observed(await client.create('services', input));
    },
    async update(providerId, desired: DesiredResource) {
      const patch = { ...(desired.attributes as unknown as RuntimeServiceInput), tags: desired.tags };
      const service = await client.update('services', providerId, patch);
      return service ? observed(service) : null;
    },
    async delete(providerId) {
      return (await client.remove('services', providerId)) ? 'deleted' : 'already-gone';
    },
    diff(desired, actual) {
      return diffFields(desired, actual, COMPUTE_FIELDS);
    },
  };
}
