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
 * - names that another service of this environment answers at (its current revision);
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

  const wanted = new Set(hosts);
  const others = (await store.listServices(env.name)).filter(
    (record) => record.name !== spec.name && record.currentRevision !== null,
  );
  const revisions = await Promise.all(
    others.map((record) => store.getRevision(env.name, record.name, record.currentRevision!)),
  );
  for (const revision of revisions) {
    if (!revision) continue;
    for (const host of claimedHostnames(provider, revision.spec, env)) {
      if (wanted.has(host))
        add({ host, owner: { env: env.name, service: revision.service }, reason: 'holds' });
    }
  }

  for (const holder of (await provider.hostnameHolders?.(hosts)) ?? []) {
    add({ host: normalizeHostname(holder.host), owner: holder.owner, reason: 'holds' });
  }
  return [...conflicts.values()];
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
