import { diffFields } from '../diff.js';
import { managedFilter, type LocalDriverDeps } from './shared.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
import type { RuntimeHealthCheck, RuntimeHealthCheckInput } from '../../runtime/types.js';

const FIELDS = ['host', 'path', 'intervalMs', 'failureThreshold'];

function observed(check: RuntimeHealthCheck): ObservedResource {
  const state = check.status === 'unknown' ? 'unknown' : check.status;
  return {
    kind: 'healthcheck',
    providerId: check.id,
    key: 'healthcheck',
    name: `${check.host}${check.path}`,
    attributes: {
      host: check.host,
      path: check.path,
      intervalMs: check.intervalMs,
      failureThreshold: check.failureThreshold,
    },
    tags: check.tags,
    health: { state, detail: check.lastError ?? `health check ${check.status}` },
  };
}

/** Health check on the local runtime: probes the service's host name through the proxy (Route 53 health check). */
export function localHealthCheckDriver({ client }: LocalDriverDeps): ResourceDriver {
  return {
    kind: 'healthcheck',
    async observeAll(scope) {
      return (await client.list('healthchecks', managedFilter(scope))).map(observed);
    },
    async create(desired) {
      const input = { ...(desired.attributes as unknown as RuntimeHealthCheckInput), tags: desired.tags };
      return observed(await client.create('healthchecks', input));
    },
    async update(providerId, desired) {
      const patch = { ...(desired.attributes as unknown as RuntimeHealthCheckInput), tags: desired.tags };
      const check = await client.update('healthchecks', providerId, patch);
      return check ? observed(check) : null;
    },
    async delete(providerId) {
      return (await client.remove('healthchecks', providerId)) ? 'deleted' : 'already-gone';
    },
    diff(desired, actual) {
      return diffFields(desired, actual, FIELDS);
    },
  };
}
