/** The EC2 calls berth makes (only `env init`, to find the default VPC's network pieces). */
import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type DescribeSecurityGroupsCommandInput,
  type DescribeSecurityGroupsCommandOutput,
  type DescribeSubnetsCommandInput,
  type DescribeSubnetsCommandOutput,
  type DescribeVpcsCommandInput,
  type DescribeVpcsCommandOutput,
} from '@aws-sdk/client-ec2';

import { clientConfig, prepareClient, type AwsConnection } from './clients.js';

export interface Ec2Api {
  describeVpcs(input: DescribeVpcsCommandInput): Promise<DescribeVpcsCommandOutput>;
  describeSubnets(input: DescribeSubnetsCommandInput): Promise<DescribeSubnetsCommandOutput>;
  describeSecurityGroups(
    input: DescribeSecurityGroupsCommandInput,
  ): Promise<DescribeSecurityGroupsCommandOutput>;
  destroy(): void;
}

export function createEc2Api(connection: AwsConnection): Ec2Api {
  const client = prepareClient(new EC2Client(clientConfig(connection)), 'ec2', connection);
  return {
    describeVpcs: (input) => client.send(new DescribeVpcsCommand(input)),
    describeSubnets: (input) => client.send(new DescribeSubnetsCommand(input)),
    describeSecurityGroups: (input) => client.send(new DescribeSecurityGroupsCommand(input)),
    destroy: () => client.destroy(),
  };
}
