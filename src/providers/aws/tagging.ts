/**
 * The Resource Groups Tagging API call berth makes: the resources of one service, found by its
 * tags (berth:env, berth:service) rather than by listing the environment, so that a deploy's cost
 * does not grow with the number of services beside it. It covers ECS services and target groups
 * (not listener rules, Route 53 health checks or records: the drivers find those otherwise).
 *
 * AWS updates this index a little after a resource is made; a driver that just made something
 * remembers it itself (see compute.ts) instead of expecting it here at once.
 */
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
  type GetResourcesCommandInput,
  type GetResourcesCommandOutput,
} from '@aws-sdk/client-resource-groups-tagging-api';

import { TAG_ENV, TAG_MANAGED_BY, MANAGED_BY_VALUE, TAG_SERVICE, type Tags } from '../../core/tags.js';
import { clientConfig, prepareClient, type AwsConnection } from './clients.js';

export interface TaggingApi {
  getResources(input: GetResourcesCommandInput): Promise<GetResourcesCommandOutput>;
  destroy(): void;
}

export function createTaggingApi(connection: AwsConnection): TaggingApi {
  const client = prepareClient(
    new ResourceGroupsTaggingAPIClient(clientConfig(connection)),
    'tagging',
    connection,
  );
  return {
    getResources: (input) => client.send(new GetResourcesCommand(input)),
    destroy: () => client.destroy(),
  };
}

export interface TaggedResource {
  arn: string;
  tags: Tags;
}

/**
 * berth's resources of one service in one environment, of the given types
 * (e.g. 'ecs:service', 'elasticloadbalancing:targetgroup'), each ARN once.
 */
export async function serviceResources(
  api: TaggingApi,
  env: string,
  service: string,
  types: string[],
): Promise<TaggedResource[]> {
  const found = new Map<string, TaggedResource>();
  let token: string | undefined;
  do {
    const page = await api.getResources({
      TagFilters: [
        { Key: TAG_MANAGED_BY, Values: [MANAGED_BY_VALUE] },
        { Key: TAG_ENV, Values: [env] },
        { Key: TAG_SERVICE, Values: [service] },
      ],
      ResourceTypeFilters: types,
      ResourcesPerPage: 100,
      PaginationToken: token || undefined,
    });
    for (const mapping of page.ResourceTagMappingList ?? []) {
      if (!mapping.ResourceARN) continue;
      const tags: Tags = {};
      for (const tag of mapping.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
      // The tagging API can list a resource twice (moto, after a second account used ECS).
      found.set(mapping.ResourceARN, { arn: mapping.ResourceARN, tags });
    }
    token = page.PaginationToken;
  } while (token);
  return [...found.values()];
}
