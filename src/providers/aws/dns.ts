/**
 * DNS on AWS: a Route 53 CNAME from a service's host name to the environment's ALB. Route 53
 * records carry no tags, so beside each CNAME berth keeps a TXT record of the same name holding
 * its tags (`"berth:managed-by=berth" "berth:env=…" …`); both are written and deleted in one
 * change batch, and one listing of the zone (pages of 300) shows both.
 */
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';

import { UserError } from '../../core/errors.js';
import { MANAGED_BY_VALUE, TAG_ENV, TAG_MANAGED_BY, TAG_SERVICE, type Tags } from '../../core/tags.js';
import { diffFields } from '../diff.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
import { awsErrorName } from './clients.js';
import { listRecords, normalizeName } from './route53.js';
import { inScope, type AwsApis } from './shared.js';

export const DNS_TTL = 60;

export interface DnsDeps {
  apis: AwsApis;
  hostedZoneId: string;
  /** The generated host name of a service (`<service>.<env>.<domain>`). */
  primaryHost(service: string): string;
}

/** `"k=v" "k2=v2"` <-> tags. */
export function tagsToTxt(tags: Tags): string {
  return Object.entries(tags)
    .map(([key, value]) => `"${key}=${value}"`)
    .join(' ');
}

export function txtToTags(value: string): Tags | null {
  const tags: Tags = {};
  for (const match of value.matchAll(/"([^"]*)"/g)) {
    const [key, ...rest] = match[1]!.split('=');
    if (key) tags[key] = rest.join('=');
  }
  return tags[TAG_MANAGED_BY] === MANAGED_BY_VALUE ? tags : null;
}

interface Pair {
  name: string;
  cname?: ResourceRecordSet;
  txt?: ResourceRecordSet;
  tags: Tags | null;
}

/** CNAME and berth TXT records grouped by name. */
export function pairs(records: ResourceRecordSet[]): Map<string, Pair> {
  const byName = new Map<string, Pair>();
  for (const record of records) {
    if (!record.Name || (record.Type !== 'CNAME' && record.Type !== 'TXT')) continue;
    const name = normalizeName(record.Name);
    const pair = byName.get(name) ?? { name, tags: null };
    if (record.Type === 'CNAME') pair.cname = record;
    else {
      const tags = (record.ResourceRecords ?? []).map((r) => txtToTags(r.Value ?? '')).find(Boolean) ?? null;
      if (tags) {
        pair.txt = record;
        pair.tags = tags;
      }
    }
    byName.set(name, pair);
  }
  return byName;
}

function observed(pair: Pair): ObservedResource {
  const target = pair.cname?.ResourceRecords?.[0]?.Value;
  return {
    kind: 'dns',
    providerId: pair.name,
    key: pair.name,
    name: pair.name,
    attributes: { name: pair.name, type: 'CNAME', target: target ? normalizeName(target) : null },
    tags: pair.tags ?? {},
  };
}

export function awsDnsDriver({ apis, hostedZoneId, primaryHost }: DnsDeps): ResourceDriver {
  async function at(name: string): Promise<Pair | undefined> {
    const records = await listRecords(apis.route53, hostedZoneId, { startName: name, stopAfterName: name });
    return pairs(records).get(normalizeName(name));
  }

  async function upsert(name: string, target: string, tags: Tags): Promise<void> {
    await apis.route53.changeResourceRecordSets({
      HostedZoneId: hostedZoneId,
      ChangeBatch: {
        Comment: `berth: ${name}`,
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: name,
              Type: 'CNAME',
              TTL: DNS_TTL,
              ResourceRecords: [{ Value: target }],
            },
          },
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: name,
              Type: 'TXT',
              TTL: DNS_TTL,
              ResourceRecords: [{ Value: tagsToTxt(tags) }],
            },
          },
        ],
      },
    });
  }

  return {
    kind: 'dns',

    async observeAll(scope) {
      if (scope.service !== undefined) {
        // One service: its generated name and the names berth recorded for it, one read each
        // (records carry no tags a listing could be filtered by), never the whole zone.
        const names = new Set([primaryHost(scope.service), ...(scope.known ?? [])].map(normalizeName));
        const found: ObservedResource[] = [];
        for (const name of names) {
          const pair = await at(name);
          if (pair?.tags && inScope(pair.tags, scope)) found.push(observed(pair));
        }
        return found;
      }
      const records = await listRecords(apis.route53, hostedZoneId);
      return [...pairs(records).values()]
        .filter((pair) => pair.tags && inScope(pair.tags, scope))
        .map(observed);
    },

    async create(desired) {
      const { name, target } = desired.attributes as { name: string; target: string };
      const existing = await at(name);
      if (existing?.cname && !existing.tags) {
        throw new UserError(
          `${name} already has a CNAME that berth did not make (${existing.cname.ResourceRecords?.[0]?.Value})`,
          {
            code: 'dns_conflict',
            hint: `remove that record from hosted zone ${hostedZoneId}, or choose another domain`,
          },
        );
      }
      if (existing?.tags && !sameService(existing.tags, desired.tags)) {
        // Another service's name (in any environment sharing the zone): the engine refuses such a
        // spec before it starts; this holds when two deploys race for one name.
        throw new UserError(
          `${name} belongs to service ${existing.tags[TAG_SERVICE]} in ${existing.tags[TAG_ENV]}`,
          {
            code: 'hostname_taken',
            hint: 'every host name belongs to one service in one environment: remove it from domains:, or delete it from its owner first',
          },
        );
      }
      await upsert(name, target, desired.tags);
      return observed({ name: normalizeName(name), cname: cname(name, target), tags: desired.tags });
    },

    async update(providerId, desired) {
      const { name, target } = desired.attributes as { name: string; target: string };
      const existing = await at(providerId);
      // Gone, or now another service's (create then refuses it): never rewritten under it.
      if (!existing?.tags || !sameService(existing.tags, desired.tags)) return null;
      await upsert(name, target, desired.tags);
      return observed({ name: normalizeName(name), cname: cname(name, target), tags: desired.tags });
    },

    async delete(providerId) {
      const existing = await at(providerId);
      // Only berth's own: a CNAME without berth's TXT beside it is someone else's.
      if (!existing?.tags) return 'already-gone';
      const changes = [existing.cname, existing.txt]
        .filter((record): record is ResourceRecordSet => Boolean(record))
        .map((record) => ({ Action: 'DELETE' as const, ResourceRecordSet: record }));
      try {
        await apis.route53.changeResourceRecordSets({
          HostedZoneId: hostedZoneId,
          ChangeBatch: { Changes: changes },
        });
      } catch (error) {
        // Gone between the read and the delete.
        if (
          ['InvalidChangeBatch', 'InvalidInput'].includes(awsErrorName(error)) &&
          /not found|does not exist/i.test((error as Error).message)
        ) {
          return 'already-gone';
        }
        throw error;
      }
      return 'deleted';
    },

    diff(desired, actual) {
      return diffFields(desired, actual, ['name', 'type', 'target']);
    },
  };
}

function sameService(a: Tags, b: Tags): boolean {
  return a[TAG_ENV] === b[TAG_ENV] && a[TAG_SERVICE] === b[TAG_SERVICE];
}

function cname(name: string, target: string): ResourceRecordSet {
  return { Name: name, Type: 'CNAME', TTL: DNS_TTL, ResourceRecords: [{ Value: target }] };
}
