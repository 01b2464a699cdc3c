/** The ECS calls berth makes, and nothing else. */
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteServiceCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type CreateClusterCommandInput,
  type CreateClusterCommandOutput,
  type CreateServiceCommandInput,
  type CreateServiceCommandOutput,
  type DeleteServiceCommandInput,
  type DeleteServiceCommandOutput,
  type DeleteTaskDefinitionsCommandInput,
  type DeleteTaskDefinitionsCommandOutput,
  type DescribeClustersCommandInput,
  type DescribeClustersCommandOutput,
  type DescribeServicesCommandInput,
  type DescribeServicesCommandOutput,
  type DescribeTaskDefinitionCommandInput,
  type DescribeTaskDefinitionCommandOutput,
  type ListServicesCommandInput,
  type ListServicesCommandOutput,
  type ListTaskDefinitionsCommandInput,
  type ListTaskDefinitionsCommandOutput,
  type RegisterTaskDefinitionCommandInput,
  type RegisterTaskDefinitionCommandOutput,
  type UpdateServiceCommandInput,
  type UpdateServiceCommandOutput,
} from '@aws-sdk/client-ecs';

import { clientConfig, prepareClient, type AwsConnection } from './clients.js';

/** AWS refuses more than 10 services per DescribeServices call. */
export const DESCRIBE_SERVICES_BATCH = 10;
/** DeleteTaskDefinitions takes at most 10 task definitions. */
export const DELETE_TASK_DEFINITIONS_BATCH = 10;

export interface EcsApi {
  listServices(input: ListServicesCommandInput): Promise<ListServicesCommandOutput>;
  describeServices(input: DescribeServicesCommandInput): Promise<DescribeServicesCommandOutput>;
  createService(input: CreateServiceCommandInput): Promise<CreateServiceCommandOutput>;
  updateService(input: UpdateServiceCommandInput): Promise<UpdateServiceCommandOutput>;
  deleteService(input: DeleteServiceCommandInput): Promise<DeleteServiceCommandOutput>;
  registerTaskDefinition(
    input: RegisterTaskDefinitionCommandInput,
  ): Promise<RegisterTaskDefinitionCommandOutput>;
  describeTaskDefinition(
    input: DescribeTaskDefinitionCommandInput,
  ): Promise<DescribeTaskDefinitionCommandOutput>;
  listTaskDefinitions(input: ListTaskDefinitionsCommandInput): Promise<ListTaskDefinitionsCommandOutput>;
  deregisterTaskDefinition(taskDefinition: string): Promise<void>;
  deleteTaskDefinitions(
    input: DeleteTaskDefinitionsCommandInput,
  ): Promise<DeleteTaskDefinitionsCommandOutput>;
  describeClusters(input: DescribeClustersCommandInput): Promise<DescribeClustersCommandOutput>;
  createCluster(input: CreateClusterCommandInput): Promise<CreateClusterCommandOutput>;
  destroy(): void;
}

export function createEcsApi(connection: AwsConnection): EcsApi {
  const client = prepareClient(new ECSClient(clientConfig(connection)), 'ecs', connection);
  return {
    listServices: (input) => client.send(new ListServicesCommand(input)),
    describeServices: (input) => client.send(new DescribeServicesCommand(input)),
    createService: (input) => client.send(new CreateServiceCommand(input)),
    updateService: (input) => client.send(new UpdateServiceCommand(input)),
    deleteService: (input) => client.send(new DeleteServiceCommand(input)),
    registerTaskDefinition: (input) => client.send(new RegisterTaskDefinitionCommand(input)),
    describeTaskDefinition: (input) => client.send(new DescribeTaskDefinitionCommand(input)),
    listTaskDefinitions: (input) => client.send(new ListTaskDefinitionsCommand(input)),
    deregisterTaskDefinition: async (taskDefinition) =>
      void (await client.send(new DeregisterTaskDefinitionCommand({ taskDefinition }))),
    deleteTaskDefinitions: (input) => client.send(new DeleteTaskDefinitionsCommand(input)),
    describeClusters: (input) => client.send(new DescribeClustersCommand(input)),
    createCluster: (input) => client.send(new CreateClusterCommand(input)),
    destroy: () => client.destroy(),
  };
}
