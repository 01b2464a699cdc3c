import { diffFields } from '../diff.js';
import { managedFilter, type LocalDriverDeps } from './shared.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
import type { RuntimeRoute } from '../../runtime/types.js';

function observed(route: RuntimeRoute): ObservedResource {
  return {
    kind: 'route',
    providerId: route.id,
    key: route.host,
    name: route.host,
    attributes: { host: route.host, serviceId: route.serviceId },
    tags: route.tags,
  };
}

/** Route on the local runtime: the proxy's Host -> service rule (the ALB listener rule + target group). */
export function localRouteDriver({ client }: LocalDriverDeps): ResourceDriver {
  return {
    kind: 'route',
    async observeAll(scope) {
      return (await client.list('routes', managedFilter(scope))).map(observed);
    },
    async create(desired) {
      const { host, serviceId } = desired.attributes as { host: string; serviceId: string };
      return observed(await client.create('routes', { host, serviceId, tags: desired.tags }));
    },
    async update(providerId, desired) {
      const { host, serviceId } = desired.attributes as { host: string; serviceId: string };
      const route = await client.update('routes', providerId, { host, serviceId, tags: desired.tags });
      return route ? observed(route) : null;
    },
    async delete(providerId) {
      return (await client.remove('routes', providerId)) ? 'deleted' : 'already-gone';
    },
    diff(desired, actual) {
      return diffFields(desired, actual, ['host', 'serviceId']);
    },
  };
}
