import { MANAGED_BY_VALUE, TAG_ENV, TAG_MANAGED_BY, TAG_SERVICE, type Tags } from '../../core/tags.js';
import type { RuntimeClient } from '../../runtime/client.js';
import type { ObserveScope } from '../provider.js';

export interface LocalDriverDeps {
  client: RuntimeClient;
}

/** The tag filter that selects berth's resources in a scope. */
export function managedFilter(scope: ObserveScope): Tags {
  const filter: Tags = { [TAG_MANAGED_BY]: MANAGED_BY_VALUE, [TAG_ENV]: scope.env };
  if (scope.service) filter[TAG_SERVICE] = scope.service;
  return filter;
}
