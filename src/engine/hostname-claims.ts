import { UserError } from '../core/errors.js';
import type { Provider } from '../providers/provider.js';
import {
  describeConflict,
  environmentDomain,
  normalizeHostname,
  reservedOwner,
  sameOwner,
  type HostnameConflict,
  type HostnameOwner,
} from '../spec/hostnames.js';
import type { EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import type { StateStore } from '../state/store.js';

/** The host names a spec answers at, normalized, each once. */
export function claimedHostnames(provider: Provider, spec: ServiceSpec, env: EnvironmentConfig): string[] {
  return [...new Set(provider.hostnames(spec, env).map(normalizeHostname))];
}

/**
 * Every host name of `spec` that someone else owns, checked before a deploy changes anything:
 * - names berth's scheme reserves for another service (`<other>.<env>.<domain>`, any environment);
 * - names that another service of this environment has routes for (berth's inventory);
 * - names the provider routes to another service, in any environment sharing it (the local
 *   runtime's proxy is shared by every local environment).
 * The runtime refuses a route for a name another service holds as well, so that two deploys
 * racing for one name cannot both win; this check makes the refusal early, clear and complete.
 */
export async function hostnameConflicts(
  deps: { store: StateStore; provider: Provider; env: EnvironmentConfig },
  spec: ServiceSpec,
): Promise<HostnameConflict[]> {
  const { store, provider, env } = deps;
  const self: HostnameOwner = { env: env.name, service: spec.name };
  const hosts = claimedHostnames(provider, spec, env);
  const conflicts = new Map<string, HostnameConflict>();
  const add = (conflict: HostnameConflict) => {
    if (!sameOwner(conflict.owner, self) && !conflicts.has(conflict.host))
      conflicts.set(conflict.host, conflict);
  };

  const domains = [...new Set([environmentDomain(env), 'localhost'])];
  for (const host of hosts) {
    for (const domain of domains) {
      const owner = reservedOwner(host, domain);
      if (owner) add({ host, owner, reason: 'reserved' });
    }
  }

  // Berth's own record of the environment: the host names of every other service's routes, in
  // one inventory read (not one read per service: deploy cost must not grow with the environment).
  const wanted = new Set(hosts);
  for (const resource of await store.listResources(env.name)) {
    if (resource.kind !== 'route' || resource.service === spec.name) continue;
    for (const host of routeHosts(resource.attributes)) {
      if (wanted.has(host))
        add({ host, owner: { env: env.name, service: resource.service }, reason: 'holds' });
    }
  }

  for (const holder of (await provider.hostnameHolders?.(hosts)) ?? []) {
    add({ host: normalizeHostname(holder.host), owner: holder.owner, reason: 'holds' });
  }
  return [...conflicts.values()];
}

/** The host names a route resource was created for: `host` (local runtime) or `hosts` (an ALB rule). */
function routeHosts(attributes: Record<string, unknown>): string[] {
  const { host, hosts } = attributes as { host?: unknown; hosts?: unknown };
  const all = [...(typeof host === 'string' ? [host] : []), ...(Array.isArray(hosts) ? hosts : [])];
  return all.filter((name): name is string => typeof name === 'string').map(normalizeHostname);
}

/** Refuses (exit 2, HTTP 409) a spec that claims a host name someone else owns, naming the owner. */
export async function requireOwnHostnames(
  deps: { store: StateStore; provider: Provider; env: EnvironmentConfig },
  spec: ServiceSpec,
): Promise<void> {
  const conflicts = await hostnameConflicts(deps, spec);
  if (conflicts.length === 0) return;
  const [first] = conflicts;
  throw new UserError(
    conflicts.length === 1
      ? `${spec.name} cannot use ${describeConflict(first!)}`
      : `${spec.name} cannot use ${conflicts.length} host names that belong to other services`,
    {
      code: 'hostname_taken',
      details: conflicts.length === 1 ? [] : conflicts.map(describeConflict),
      hint: 'every host name belongs to one service in one environment: remove it from domains:, or delete it from its owner first',
    },
  );
}
