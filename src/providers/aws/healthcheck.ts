/**
 * Health check on AWS: a Route 53 HTTP health check of the service's host name and health path.
 * Its CallerReference starts with a hash of environment and service (`berth-s<hash>-<uuid>`), so
 * that one service's checks are picked out of a listing without reading every check's tags.
 * A sweep lists health checks (pages of 1,000) and reads the tags of berth's own (10 per call;
 * berth's have a CallerReference starting "berth-") that it has not seen before, plus one batch
 * of known ones in turn. Status (GetHealthCheckStatus, 1 call/s per account) is a per-item call
 * and stays out of sweeps: a look at one service (a deploy, its status) reads what Route 53's
 * checkers report for its check, and sweeps show that reading for a while, with its age.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { HealthCheck, HealthCheckObservation } from '@aws-sdk/client-route-53';

import type { Tags } from '../../core/tags.js';
import { diffFields } from '../diff.js';
import type { ObservedResource, ResourceDriver, ResourceHealth } from '../provider.js';
import { awsErrorName } from './clients.js';
import { healthCheckTags, listHealthChecks, R53_TAGS_BATCH } from './route53.js';
import { inScope, type AwsApis } from './shared.js';

const FIELDS = ['host', 'path', 'port', 'intervalSeconds', 'failureThreshold'];
export const CALLER_REFERENCE_PREFIX = 'berth-';

/** `berth-s<12 hex>-`: the CallerReference prefix of one service's checks. */
export function serviceReferencePrefix(env: string, service: string): string {
  return `${CALLER_REFERENCE_PREFIX}s${createHash('sha256').update(`${env}/${service}`).digest('hex').slice(0, 12)}-`;
}

/** Checks made before references carried the service's hash: `berth-<uuid>`. */
const LEGACY_REFERENCE = /^berth-[0-9a-f]{8}-[0-9a-f]{4}-/;

export interface HealthCheckAttributes {
  host: string;
  path: string;
  port: number;
  /** Route 53 checks every 10 or 30 seconds. */
  intervalSeconds: 10 | 30;
  /** 1-10 consecutive failures before unhealthy. */
  failureThreshold: number;
}

/**
 * Route 53 calls an endpoint healthy when more than 18% of its checkers see it healthy (AWS's
 * rule for HTTP checks), so a few failing checkers are a warning, not an outage.
 */
const HEALTHY_SHARE = 0.18;
/** A look at one service reads its checkers again when the last reading is older than this. */
const STATUS_FRESH_MS = 15_000;
/** Sweeps show a reading while it is younger than this (with its age); then nothing. */
const STATUS_SHOWN_MS = 10 * 60_000;

/**
 * What Route 53's checkers report: "Route 53 checkers: 14/16 healthy", and why the others fail
 * ("2 report HTTP Status Code 503, Service Unavailable (us-west-1, sa-east-1)").
 */
export function checkerHealth(observations: HealthCheckObservation[]): ResourceHealth {
  if (observations.length === 0) {
    return { state: 'unknown', detail: 'Route 53 checkers: none has reported yet (a new check)' };
  }
  const healthy = observations.filter((o) => /^Success\b/i.test(o.StatusReport?.Status ?? '')).length;
  const failing = new Map<string, Set<string>>();
  for (const observation of observations) {
    const status = observation.StatusReport?.Status ?? '';
    if (/^Success\b/i.test(status)) continue;
    const reason = status.replace(/^Failure:\s*/i, '').trim() || 'no report';
    const regions = failing.get(reason) ?? new Set<string>();
    regions.add(observation.Region ?? '?');
    failing.set(reason, regions);
  }
  const total = observations.length;
  const reasons = [...failing].map(([reason, regions]) => {
    const count = observations.filter(
      (o) => (o.StatusReport?.Status ?? '').replace(/^Failure:\s*/i, '').trim() === reason,
    ).length;
    return `${count} report ${reason} (${[...regions].sort().join(', ')})`;
  });
  const detail = [`Route 53 checkers: ${healthy}/${total} healthy`, ...reasons].join('; ');
  return { state: healthy / total > HEALTHY_SHARE ? 'healthy' : 'unhealthy', detail };
}

function observed(check: HealthCheck, tags: Tags): ObservedResource {
  const config = check.HealthCheckConfig;
  const attributes: HealthCheckAttributes = {
    host: config?.FullyQualifiedDomainName ?? '',
    path: config?.ResourcePath ?? '',
    port: config?.Port ?? 0,
    intervalSeconds: (config?.RequestInterval ?? 30) as 10 | 30,
    failureThreshold: config?.FailureThreshold ?? 0,
  };
  return {
    kind: 'healthcheck',
    providerId: check.Id ?? '',
    key: 'healthcheck',
    name: `${attributes.host}${attributes.path}`,
    attributes: attributes as unknown as Record<string, unknown>,
    tags,
  };
}

export function awsHealthCheckDriver({
  apis,
  env,
  primaryHost,
}: {
  apis: AwsApis;
  env: string;
  primaryHost(service: string): string;
}): ResourceDriver {
  /**
   * Health check tags, by id. Reading every check's tags each sweep costs one Route 53 call per
   * 10 checks from the account's 10/s budget (1,000 checks: 100 calls, 10 s, a third of the budget
   * at a 30 s resync), so a sweep reads only the tags of checks it has not seen, plus one batch of
   * known ones in turn: a tag changed behind berth's back is seen within (checks / 10) sweeps.
   */
  const tagCache = new Map<string, Tags>();
  let refreshFrom = 0;

  async function tagsOfChecks(ids: string[]): Promise<Map<string, Tags>> {
    const listed = new Set(ids);
    for (const id of [...tagCache.keys()]) if (!listed.has(id)) tagCache.delete(id);
    const unknown = ids.filter((id) => !tagCache.has(id));
    const known = ids.filter((id) => tagCache.has(id));
    let refresh: string[] = [];
    if (known.length > 0) {
      const start = refreshFrom % known.length;
      refresh = [...known, ...known].slice(start, start + Math.min(R53_TAGS_BATCH, known.length));
      refreshFrom = start + refresh.length;
    }
    const wanted = [...unknown, ...refresh];
    const fetched = await healthCheckTags(apis.route53, wanted);
    for (const id of wanted) tagCache.set(id, fetched.get(id) ?? {});
    return new Map(ids.map((id) => [id, tagCache.get(id) ?? {}]));
  }

  /** The last reading of each check's checkers, by id. */
  const statuses = new Map<string, { health: ResourceHealth; at: number }>();

  /**
   * A look at one service: its checks' checkers, read again when the last reading is not fresh.
   * One reading at a time: looks at many services at once (the API's listing after a busy
   * minute) would otherwise queue on the account's 1 call/s; those that find a reading under
   * way show the last one instead.
   */
  let reading = false;
  async function readStatuses(ids: string[]): Promise<void> {
    if (reading) return;
    reading = true;
    try {
      for (const id of ids) {
        const last = statuses.get(id);
        if (last && Date.now() - last.at < STATUS_FRESH_MS) continue;
        try {
          const observations = await apis.route53.getHealthCheckStatus(id);
          statuses.set(id, { health: checkerHealth(observations), at: Date.now() });
        } catch (error) {
          if (awsErrorName(error) === 'NoSuchHealthCheck') statuses.delete(id);
          else throw error;
        }
      }
    } finally {
      reading = false;
    }
  }

  /** The check as observed, with its checkers' last reading (its age in sweeps). */
  function withStatus(resource: ObservedResource, fresh: boolean): ObservedResource {
    const last = statuses.get(resource.providerId);
    if (!last) return resource;
    const age = Date.now() - last.at;
    if (fresh && age < STATUS_FRESH_MS) return { ...resource, health: last.health };
    if (age > STATUS_SHOWN_MS) return resource;
    return {
      ...resource,
      health: { ...last.health, detail: `${last.health.detail} (read ${Math.round(age / 1000)}s ago)` },
    };
  }

  async function tag(id: string, tags: Tags): Promise<void> {
    await apis.route53.changeTagsForResource({
      ResourceType: 'healthcheck',
      ResourceId: id,
      AddTags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    });
    tagCache.set(id, { ...(tagCache.get(id) ?? {}), ...tags });
  }

  async function create(want: HealthCheckAttributes, tags: Tags): Promise<ObservedResource> {
    const out = await apis.route53.createHealthCheck({
      CallerReference: `${serviceReferencePrefix(tags['berth:env'] ?? env, tags['berth:service'] ?? '')}${randomUUID()}`,
      HealthCheckConfig: {
        Type: 'HTTP',
        FullyQualifiedDomainName: want.host,
        ResourcePath: want.path,
        Port: want.port,
        RequestInterval: want.intervalSeconds,
        FailureThreshold: want.failureThreshold,
      },
    });
    const check = out.HealthCheck;
    if (!check?.Id) throw new Error('CreateHealthCheck returned no health check');
    try {
      await tag(check.Id, tags);
    } catch (error) {
      // An untagged check could never be found again: do not leave one behind.
      await apis.route53.deleteHealthCheck(check.Id).catch(() => undefined);
      throw error;
    }
    return observed(check, tags);
  }

  async function remove(id: string): Promise<'deleted' | 'already-gone'> {
    tagCache.delete(id);
    statuses.delete(id);
    try {
      await apis.route53.deleteHealthCheck(id);
      return 'deleted';
    } catch (error) {
      if (awsErrorName(error) === 'NoSuchHealthCheck') return 'already-gone';
      throw error;
    }
  }

  return {
    kind: 'healthcheck',

    async observeAll(scope) {
      if (scope.service !== undefined) {
        // One service: its checks by their reference's hash (older ones by id or host name); only
        // their tags are read.
        const prefix = serviceReferencePrefix(scope.env, scope.service);
        const known = new Set(scope.known ?? []);
        const host = primaryHost(scope.service).toLowerCase();
        const mine = (await listHealthChecks(apis.route53)).filter((check) => {
          const reference = check.CallerReference ?? '';
          if (reference.startsWith(prefix) || known.has(check.Id ?? '')) return true;
          return (
            LEGACY_REFERENCE.test(reference) &&
            check.HealthCheckConfig?.FullyQualifiedDomainName?.toLowerCase() === host
          );
        });
        const tags = await healthCheckTags(
          apis.route53,
          mine.map((check) => check.Id!),
        );
        const ours = mine.filter((check) => inScope(tags.get(check.Id!) ?? {}, scope));
        await readStatuses(ours.map((check) => check.Id!));
        return ours.map((check) => withStatus(observed(check, tags.get(check.Id!) ?? {}), true));
      }
      const checks = (await listHealthChecks(apis.route53)).filter((check) =>
        check.CallerReference?.startsWith(CALLER_REFERENCE_PREFIX),
      );
      const tags = await tagsOfChecks(checks.map((check) => check.Id!));
      return checks
        .filter((check) => inScope(tags.get(check.Id!) ?? {}, scope))
        .map((check) => withStatus(observed(check, tags.get(check.Id!) ?? {}), false));
    },

    async create(desired) {
      return create(desired.attributes as unknown as HealthCheckAttributes, desired.tags);
    },

    async update(providerId, desired) {
      const want = desired.attributes as unknown as HealthCheckAttributes;
      const current = await apis.route53
        .getHealthCheck(providerId)
        .then((out) => out.HealthCheck)
        .catch((error: unknown) => {
          if (awsErrorName(error) === 'NoSuchHealthCheck') return undefined;
          throw error;
        });
      if (!current) return null;
      // The request interval cannot be changed in place: replace the check.
      if (current.HealthCheckConfig?.RequestInterval !== want.intervalSeconds) {
        const replacement = await create(want, desired.tags);
        await remove(providerId);
        return replacement;
      }
      try {
        const out = await apis.route53.updateHealthCheck({
          HealthCheckId: providerId,
          FullyQualifiedDomainName: want.host,
          ResourcePath: want.path,
          Port: want.port,
          FailureThreshold: want.failureThreshold,
        });
        await tag(providerId, desired.tags);
        return out.HealthCheck ? observed(out.HealthCheck, desired.tags) : null;
      } catch (error) {
        if (awsErrorName(error) === 'NoSuchHealthCheck') return null;
        throw error;
      }
    },

    delete: remove,

    diff(desired, actual) {
      return diffFields(desired, actual, FIELDS);
    },
  };
}
