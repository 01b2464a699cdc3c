/**
 * Who holds a host name on AWS, across every environment that shares a hosted zone: berth's TXT
 * record beside each CNAME it writes names the environment and service (dns.ts). Each name is
 * looked up where Route 53 keeps it (one ListResourceRecordSets starting at that name), so a
 * deploy's check costs one call per name it claims, whatever the size of the zone.
 *
 * Names outside the hosted zone are not written by berth (their owner points them at the ALB), so
 * Route 53 cannot say who holds them; berth's own inventory still guards them within one
 * environment (engine/hostname-claims.ts).
 */
import { TAG_ENV, TAG_SERVICE } from '../../core/tags.js';
import { normalizeHostname, type HostnameOwner } from '../../spec/hostnames.js';
import { pairs } from './dns.js';
import { listRecords, type Route53Api } from './route53.js';

export interface HostnameHoldersDeps {
  route53: Route53Api;
  hostedZoneId: string;
  /** The zone's domain: names under it are the only ones berth writes records for. */
  domain: string;
}

export async function route53HostnameHolders(
  { route53, hostedZoneId, domain }: HostnameHoldersDeps,
  hosts: string[],
): Promise<{ host: string; owner: HostnameOwner }[]> {
  const zone = normalizeHostname(domain);
  const inZone = [...new Set(hosts.map(normalizeHostname))].filter(
    (host) => host === zone || host.endsWith(`.${zone}`),
  );
  const found = await Promise.all(
    inZone.map(async (host) => {
      const records = await listRecords(route53, hostedZoneId, { startName: host, stopAfterName: host });
      const tags = pairs(records).get(host)?.tags;
      if (!tags?.[TAG_ENV] || !tags[TAG_SERVICE]) return null;
      return { host, owner: { env: tags[TAG_ENV], service: tags[TAG_SERVICE] } };
    }),
  );
  return found.filter((holder): holder is { host: string; owner: HostnameOwner } => holder !== null);
}
