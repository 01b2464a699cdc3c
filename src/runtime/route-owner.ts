import { TAG_ENV, TAG_SERVICE } from '../core/tags.js';
import type { HostnameOwner } from '../spec/hostnames.js';
import type { RuntimeRoute } from './types.js';

/**
 * Who a route's host name belongs to: the service and environment of its berth tags. Every route
 * of one host must have the same owner (the console refuses a route for a name another owner
 * holds), so that no service ever receives another one's traffic. Routes made outside berth
 * (without berth's tags) all count as one owner, "outside berth".
 */
export function routeOwner(route: Pick<RuntimeRoute, 'id' | 'tags'>): HostnameOwner {
  const env = route.tags[TAG_ENV];
  const service = route.tags[TAG_SERVICE];
  return env && service ? { env, service } : { env: '', service: route.id };
}

/** A key equal for routes of the same owner. */
export function routeOwnerKey(route: Pick<RuntimeRoute, 'tags'>): string {
  const env = route.tags[TAG_ENV];
  const service = route.tags[TAG_SERVICE];
  return env && service ? `${env}\n${service}` : '';
}
