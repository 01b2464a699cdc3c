/**
 * Health check on AWS: a Route 53 HTTP health check of the service's host name and health path.
 * Its CallerReference starts with a hash of environment and service (`berth-s<hash>-<uuid>`), so
 * that one service's checks are picked out of a listing without reading every check's tags.
 * A sweep lists health checks (pages of 1,000) and reads the tags of berth's own (10 per call;
 * berth's have a CallerReference starting "berth-") that it has not seen before, plus one batch
 * of known ones in turn. Status (GetHealthCheckStatus) is a per-item call and stays out of sweeps.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { HealthCheck } from '@aws-sdk/client-route-53';

import type { Tags } from '../../core/tags.js';
import { diffFields } from '../diff.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
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
   * 10 checks from the account's ~5/s budget (1,000 checks: 100 calls, 20 s, 70% of the budget at
   * a 30 s resync), so a sweep reads only the tags of checks it has not seen, plus one batch of
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
        return mine
          .filter((check) => inScope(tags.get(check.Id!) ?? {}, scope))
          .map((check) => observed(check, tags.get(check.Id!) ?? {}));
      }
      const checks = (await listHealthChecks(apis.route53)).filter((check) =>
        check.CallerReference?.startsWith(CALLER_REFERENCE_PREFIX),
      );
      const tags = await tagsOfChecks(checks.map((check) => check.Id!));
      return checks
        .filter((check) => inScope(tags.get(check.Id!) ?? {}, scope))
        .map((check) => observed(check, tags.get(check.Id!) ?? {}));
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
