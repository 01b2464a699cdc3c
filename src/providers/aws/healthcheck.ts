/**
 * Health check on AWS: a Route 53 HTTP health check of the service's host name and health path.
 * A sweep lists health checks (pages of 1,000) and reads the tags of berth's own (10 per call;
 * berth's have a CallerReference starting "berth-") that it has not seen before, plus one batch
 * of known ones in turn. Status (GetHealthCheckStatus) is a per-item call and stays out of sweeps.
 */
import { randomUUID } from 'node:crypto';
import type { HealthCheck } from '@aws-sdk/client-route-53';

import type { Tags } from '../../core/tags.js';
import { diffFields } from '../diff.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
import { awsErrorName } from './clients.js';
import { healthCheckTags, listHealthChecks, R53_TAGS_BATCH } from './route53.js';
import { inScope, type AwsApis } from './shared.js';

const FIELDS = ['host', 'path', 'port', 'intervalSeconds', 'failureThreshold'];
export const CALLER_REFERENCE_PREFIX = 'berth-';

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

export function awsHealthCheckDriver({ apis }: { apis: AwsApis }): ResourceDriver {
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
      CallerReference: `${CALLER_REFERENCE_PREFIX}${randomUUID()}`,
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
      const current = (await listHealthChecks(apis.route53)).find((check) => check.Id === providerId);
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
