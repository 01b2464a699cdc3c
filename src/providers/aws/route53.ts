/** The Route 53 calls berth makes, and nothing else; plus paging helpers. */
import {
  ChangeResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  CreateHealthCheckCommand,
  DeleteHealthCheckCommand,
  GetHealthCheckCommand,
  GetHealthCheckStatusCommand,
  GetHostedZoneCommand,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  ListTagsForResourcesCommand,
  Route53Client,
  UpdateHealthCheckCommand,
  type ChangeResourceRecordSetsCommandInput,
  type ChangeTagsForResourceCommandInput,
  type CreateHealthCheckCommandInput,
  type CreateHealthCheckCommandOutput,
  type GetHealthCheckCommandOutput,
  type HealthCheckObservation,
  type GetHostedZoneCommandOutput,
  type HealthCheck,
  type ListHealthChecksCommandInput,
  type ListHealthChecksCommandOutput,
  type ListResourceRecordSetsCommandInput,
  type ListResourceRecordSetsCommandOutput,
  type ListTagsForResourcesCommandInput,
  type ListTagsForResourcesCommandOutput,
  type ResourceRecordSet,
  type UpdateHealthCheckCommandInput,
  type UpdateHealthCheckCommandOutput,
} from '@aws-sdk/client-route-53';

import type { Tags } from '../../core/tags.js';
import { clientConfig, prepareClient, type AwsConnection } from './clients.js';

/** Route 53 pages: 300 records, 1,000 health checks; ListTagsForResources takes 10 ids. */
export const RECORDS_PAGE_SIZE = 300;
export const HEALTH_CHECKS_PAGE_SIZE = 1000;
export const R53_TAGS_BATCH = 10;

export interface Route53Api {
  getHostedZone(id: string): Promise<GetHostedZoneCommandOutput>;
  listResourceRecordSets(
    input: ListResourceRecordSetsCommandInput,
  ): Promise<ListResourceRecordSetsCommandOutput>;
  changeResourceRecordSets(input: ChangeResourceRecordSetsCommandInput): Promise<void>;
  getHealthCheck(id: string): Promise<GetHealthCheckCommandOutput>;
  /** What each of Route 53's checkers last saw (1 call/s per account: never in a sweep). */
  getHealthCheckStatus(id: string): Promise<HealthCheckObservation[]>;
  listHealthChecks(input: ListHealthChecksCommandInput): Promise<ListHealthChecksCommandOutput>;
  createHealthCheck(input: CreateHealthCheckCommandInput): Promise<CreateHealthCheckCommandOutput>;
  updateHealthCheck(input: UpdateHealthCheckCommandInput): Promise<UpdateHealthCheckCommandOutput>;
  deleteHealthCheck(id: string): Promise<void>;
  changeTagsForResource(input: ChangeTagsForResourceCommandInput): Promise<void>;
  listTagsForResources(input: ListTagsForResourcesCommandInput): Promise<ListTagsForResourcesCommandOutput>;
  destroy(): void;
}

export function createRoute53Api(connection: AwsConnection): Route53Api {
  const client = prepareClient(new Route53Client(clientConfig(connection)), 'route53', connection);
  return {
    getHostedZone: (Id) => client.send(new GetHostedZoneCommand({ Id })),
    listResourceRecordSets: (input) => client.send(new ListResourceRecordSetsCommand(input)),
    changeResourceRecordSets: async (input) =>
      void (await client.send(new ChangeResourceRecordSetsCommand(input))),
    getHealthCheck: (HealthCheckId) => client.send(new GetHealthCheckCommand({ HealthCheckId })),
    getHealthCheckStatus: async (HealthCheckId) =>
      (await client.send(new GetHealthCheckStatusCommand({ HealthCheckId }))).HealthCheckObservations ?? [],
    listHealthChecks: (input) => client.send(new ListHealthChecksCommand(input)),
    createHealthCheck: (input) => client.send(new CreateHealthCheckCommand(input)),
    updateHealthCheck: (input) => client.send(new UpdateHealthCheckCommand(input)),
    deleteHealthCheck: async (HealthCheckId) =>
      void (await client.send(new DeleteHealthCheckCommand({ HealthCheckId }))),
    changeTagsForResource: async (input) => void (await client.send(new ChangeTagsForResourceCommand(input))),
    listTagsForResources: (input) => client.send(new ListTagsForResourcesCommand(input)),
    destroy: () => client.destroy(),
  };
}

/** Every record set of a zone (from `startName`, when given), 300 per page. */
export async function listRecords(
  api: Route53Api,
  zoneId: string,
  options: { startName?: string; stopAfterName?: string } = {},
): Promise<ResourceRecordSet[]> {
  const records: ResourceRecordSet[] = [];
  let name = options.startName;
  let type: ListResourceRecordSetsCommandInput['StartRecordType'];
  for (;;) {
    const page = await api.listResourceRecordSets({
      HostedZoneId: zoneId,
      MaxItems: RECORDS_PAGE_SIZE,
      StartRecordName: name,
      StartRecordType: type,
    });
    const sets = page.ResourceRecordSets ?? [];
    records.push(...sets);
    // Records come sorted by name: a caller after one name stops once past it.
    const last = sets[sets.length - 1]?.Name;
    if (options.stopAfterName && last && normalizeName(last) !== normalizeName(options.stopAfterName)) break;
    if (!page.IsTruncated) break;
    name = page.NextRecordName;
    type = page.NextRecordType;
  }
  return records;
}

/** Every health check of the account, 1,000 per page. */
export async function listHealthChecks(api: Route53Api): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
  let marker: string | undefined;
  do {
    const page = await api.listHealthChecks({ MaxItems: HEALTH_CHECKS_PAGE_SIZE, Marker: marker });
    checks.push(...(page.HealthChecks ?? []));
    marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (marker);
  return checks;
}

/** The tags of many health checks, 10 per call. */
export async function healthCheckTags(api: Route53Api, ids: string[]): Promise<Map<string, Tags>> {
  const result = new Map<string, Tags>();
  for (let i = 0; i < ids.length; i += R53_TAGS_BATCH) {
    const out = await api.listTagsForResources({
      ResourceType: 'healthcheck',
      ResourceIds: ids.slice(i, i + R53_TAGS_BATCH),
    });
    for (const set of out.ResourceTagSets ?? []) {
      const tags: Tags = {};
      for (const tag of set.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
      if (set.ResourceId) result.set(set.ResourceId, tags);
    }
  }
  return result;
}

/** Route 53 names end with a dot and may escape characters; berth compares them without the dot, lower-case. */
export function normalizeName(name: string): string {
  return name.replace(/\\052/g, '*').replace(/\.$/, '').toLowerCase();
}
