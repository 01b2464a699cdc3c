import { diffFields } from '../diff.js';
import { managedFilter, type LocalDriverDeps } from './shared.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
import type { RuntimeDns } from '../../runtime/types.js';

function observed(record: RuntimeDns): ObservedResource {
  return {
    kind: 'dns',
    providerId: record.id,
    key: record.name,
    name: record.name,
    attributes: { name: record.name, type: record.type, target: record.target },
    tags: record.tags,
  };
}

/** DNS on the local runtime: a CNAME from the service's host name to the proxy (Route 53 record). */
export function localDnsDriver({ client }: LocalDriverDeps): ResourceDriver {
  return {
    kind: 'dns',
    async observeAll(scope) {
      return (await client.list('dns', managedFilter(scope))).map(observed);
    },
    async create(desired) {
      const { name, target } = desired.attributes as { name: string; target: string };
      return observed(await client.create('dns', { name, type: 'CNAME', target, tags: desired.tags }));
    },
    async update(providerId, desired) {
      const { name, target } = desired.attributes as { name: string; target: string };
      const record = await client.update('dns', providerId, {
        name,
        type: 'CNAME',
        target,
        tags: desired.tags,
      });
      return record ? observed(record) : null;
    },
    async delete(providerId) {
      return (await client.remove('dns', providerId)) ? 'deleted' : 'already-gone';
    },
    diff(desired, actual) {
      return diffFields(desired, actual, ['name', 'type', 'target']);
    },
  };
}
