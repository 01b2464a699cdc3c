import { berthTags, MANAGED_BY_VALUE, TAG_ENV, TAG_MANAGED_BY, TAG_SERVICE } from '../../core/tags.js';
import type { RuntimeKind } from '../../runtime/types.js';

const KIND_NAMES: Record<RuntimeKind, string> = {
  services: 'compute',
  routes: 'route',
  dns: 'DNS record',
  healthchecks: 'health check',
};
import { sleep } from '../../core/clock.js';
import { UserError } from '../../core/errors.js';
import { ensureRuntime } from '../../runtime/launcher.js';
import type { RuntimeClient } from '../../runtime/client.js';
import type { RuntimeInfo } from '../../runtime/types.js';
import type { ResourceKind } from '../../state/store.js';
import type { EnvironmentConfig, ServiceSpec } from '../../spec/types.js';
import { normalizeHostname } from '../../spec/hostnames.js';
import { routeOwner } from '../../runtime/route-owner.js';
import type { ComputeReadiness, DesiredContext, DesiredResource, Provider } from '../provider.js';
import { localComputeDriver } from './compute.js';
import { localRouteDriver } from './route.js';
import { localDnsDriver } from './dns.js';
import { localHealthCheckDriver } from './healthcheck.js';

/** The actor berth's own console calls carry in the runtime's activity log. */
export const BERTH_ACTOR = 'berth';

/** Replicas that restarted this often without ever becoming healthy will not: stop waiting for them. */
const CRASH_LOOP_RESTARTS = 3;

/** How much of a replica's log file is read to find its last runs' output. */
const LOG_SCAN_LINES = 400;

/** The runtime's own lines in a replica's log file ("--- berth runtime: starting replica 0 ..."). */
const RUNTIME_MARKER = '--- berth runtime: ';

/**
 * The output of a replica's latest run that printed anything, without the runtime's markers. A
 * log file is kept by service name, so only the compute's own runs (the last `ownRuns` starts)
 * are looked at: a deleted service of the same name never speaks for this one.
 */
export function lastRunOutput(fileLines: string[], ownRuns: number, max: number): string[] {
  const runs: string[][] = [];
  for (const line of fileLines) {
    if (line.startsWith(`${RUNTIME_MARKER}starting replica`)) runs.push([]);
    else if (!line.startsWith(RUNTIME_MARKER)) runs[runs.length - 1]?.push(line);
  }
  const own = runs.slice(-ownRuns);
  const spoke = own.filter((run) => run.some((line) => line.trim() !== '')).pop() ?? [];
  return spoke.slice(-max);
}

export interface LocalProviderOptions {
  /** Called when the runtime was not running and is being started. */
  onRuntimeStart?: (message: string) => void;
}

/** The local provider: the local runtime (started on demand) seen through its console. */
export async function createLocalProvider(
  dataDir: string,
  options: LocalProviderOptions = {},
): Promise<Provider> {
  // berth names itself in the runtime's activity log, so that changes behind its back stand out.
  const client = (await ensureRuntime(dataDir, { onStart: options.onRuntimeStart })).as(BERTH_ACTOR);
  const info = client.connectedInfo ?? (await client.info());
  return localProvider(client, info);
}

export function localProvider(client: RuntimeClient, info: RuntimeInfo): Provider {
  const deps = { client };
  let createdAt = Date.now();
  // Normalized and each once: the proxy matches names case-insensitively without a trailing dot.
  const hostnames = (spec: ServiceSpec, env: EnvironmentConfig) => [
    ...new Set(
      [`${spec.name}.${env.name}.${env.local?.domain ?? 'localhost'}`, ...spec.domains].map(
        normalizeHostname,
      ),
    ),
  ];

  function desired(
    kind: ResourceKind,
    { env, spec, generation, computeId }: DesiredContext,
  ): DesiredResource[] {
    const tags = berthTags(env.name, spec.name, generation);
    const hosts = hostnames(spec, env);
    switch (kind) {
      case 'compute':
        if (!spec.run) return [];
        return [
          {
            kind,
            key: 'compute',
            tags,
            attributes: {
              name: `${spec.name}-${env.name}-g${generation}`,
              command: spec.run.command,
              cwd: spec.run.cwd,
              env: spec.env,
              // Only where each value is: the runtime reads the secret store when a replica starts.
              secrets: Object.fromEntries(
                Object.entries(spec.secrets ?? {}).map(([variable, name]) => [
                  variable,
                  { scope: env.name, name },
                ]),
              ),
              replicas: spec.replicas,
              health: spec.health,
            },
          },
        ];
      case 'route':
        return hosts.map((host) => ({ kind, key: host, tags, attributes: { host, serviceId: computeId } }));
      case 'dns':
        return hosts.map((name) => ({
          kind,
          key: name,
          tags,
          attributes: { name, type: 'CNAME', target: info.proxyHost },
        }));
      case 'healthcheck':
        return [
          {
            kind,
            key: 'healthcheck',
            tags,
            attributes: {
              host: hosts[0],
              path: spec.health.path,
              intervalMs: spec.health.intervalMs,
              failureThreshold: spec.health.unhealthyThreshold,
            },
          },
        ];
    }
  }

  return {
    name: 'local',
    drivers: {
      compute: localComputeDriver(deps),
      route: localRouteDriver(deps),
      dns: localDnsDriver(deps),
      healthcheck: localHealthCheckDriver(deps),
    },
    async identity() {
      // A command that just connected (and checked the runtime's instance id) need not ask again;
      // any later check, and any check by a long-lived provider, asks the runtime.
      const justConnected = Date.now() - createdAt < 1000 ? info : null;
      createdAt = 0;
      const current = justConnected ?? (await client.info());
      return {
        id: current.instanceId,
        description: `local runtime ${current.instanceId} on ${current.hostname}`,
      };
    },
    async runsCodeWithBerthPrivileges() {
      return !(await client.info()).replicaUser;
    },
    hostnames,
    async hostnameHolders(hosts) {
      const wanted = new Set(hosts.map(normalizeHostname));
      return (await client.list('routes'))
        .filter((route) => wanted.has(normalizeHostname(route.host)))
        .map((route) => ({ host: normalizeHostname(route.host), owner: routeOwner(route) }));
    },
    async urls(spec, env) {
      return hostnames(spec, env).map((host) => `http://${host}:${info.proxy.port}/`);
    },
    desired,
    // A readiness check is a cheap loopback call.
    readinessPollMs: 10,
    async readiness(computeId): Promise<ComputeReadiness> {
      const service = await client.get('services', computeId);
      if (!service)
        return { ready: false, failed: true, healthy: 0, desired: 0, detail: 'the compute is gone' };
      const replicas = service.replicaStatus;
      const healthy = replicas.filter((replica) => replica.state === 'healthy').length;
      const states = replicas.map((replica) => replica.state).join(', ');
      const lastExit = replicas.map((replica) => replica.lastExit).find(Boolean);
      const crashLooping =
        healthy === 0 &&
        replicas.length > 0 &&
        replicas.every((replica) => replica.restarts >= CRASH_LOOP_RESTARTS && replica.state !== 'healthy');
      const detail = crashLooping
        ? `replicas keep exiting (last exit: ${lastExit ?? 'unknown'}; restarted ${replicas[0]?.restarts} times)`
        : `${healthy}/${service.replicas} replicas healthy${states ? ` (${states})` : ''}`;
      return {
        ready: healthy >= service.replicas,
        failed: crashLooping,
        healthy,
        desired: service.replicas,
        detail,
        replicas: replicas.map((replica) => ({
          index: replica.index,
          state: replica.state,
          lastCheck: replica.lastCheck ?? null,
          lastExit: replica.lastExit,
          restarts: replica.restarts,
        })),
      };
    },
    async activity(env, window) {
      const entries = await client.activity(window, { [TAG_MANAGED_BY]: MANAGED_BY_VALUE, [TAG_ENV]: env });
      return entries
        .filter((entry) => entry.actor !== BERTH_ACTOR)
        .map((entry) => ({
          time: entry.time,
          actor: entry.actor,
          service: entry.tags[TAG_SERVICE] ?? null,
          description:
            `${entry.actor} ${entry.action === 'kill' ? 'killed' : `${entry.action}d`} ${KIND_NAMES[entry.kind]} ` +
            `${entry.id}${entry.name ? ` (${entry.name})` : ''} in the local runtime${entry.detail ? `: ${entry.detail}` : ''}`,
        }));
    },
    async recentLogs(computeId, lines) {
      // Logs first, then the restart count: a replica that restarts in between is counted with
      // the run it starts, so its last run that printed anything is still among those looked at.
      const logs = await client.logs(computeId, LOG_SCAN_LINES);
      const service = await client.get('services', computeId);
      return logs.flatMap((replica) => {
        const runs = service?.replicaStatus.find((status) => status.index === replica.index)?.restarts ?? 0;
        return lastRunOutput(replica.lines, runs + 1, lines).map(
          (line) => `[replica ${replica.index}] ${line}`,
        );
      });
    },
    async logs({ computeId, limit }) {
      if (!computeId) return [];
      // Replica files carry no times: each replica's last lines, replica by replica, each replica
      // an equal share of `limit` (the last lines overall would be the last replica's only).
      const replicas = await client.logs(computeId, limit);
      const share = Math.max(1, Math.ceil(limit / Math.max(1, replicas.length)));
      return replicas
        .flatMap((replica) =>
          replica.lines
            .slice(-share)
            .map((message) => ({ time: null, source: `replica ${replica.index}`, message })),
        )
        .slice(0, limit);
    },
    watch(_env, onChange, signal) {
      void watchRuntime(client, onChange, signal);
    },
    async close() {},
  };
}

/**
 * Follows the runtime's change feed until `signal` aborts. The feed is not scoped by environment:
 * any change wakes the reconciler, which then observes (a few list calls). A runtime without the
 * feed, or an unreachable one, leaves the reconciler to its periodic resync.
 */
async function watchRuntime(client: RuntimeClient, onChange: () => void, signal: AbortSignal): Promise<void> {
  let version: number | null = null;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const next = await client.changes(version ?? -1, version === null ? 0 : 20_000, signal);
      if (version !== null && next !== version) onChange();
      version = next;
      failures = 0;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof UserError && error.code === 'not_found') return;
      failures += 1;
      version = null;
      await sleep(Math.min(5_000, 250 * 2 ** failures), signal).catch(() => undefined);
    }
  }
}
