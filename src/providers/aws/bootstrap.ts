/**
 * `berth env init` for AWS: makes whatever shared piece of an environment is missing (ECS
 * cluster, ALB and listener, DynamoDB state table), tagged as berth's, and reports what it found
 * and what it made. Running it again finds everything and makes nothing.
 */
import { MANAGED_BY_VALUE, TAG_ENV, TAG_MANAGED_BY } from '../../core/tags.js';
import { UserError } from '../../core/errors.js';
import type { EnvironmentConfig } from '../../spec/types.js';
import { createDynamoClient, ensureTable } from '../../state/dynamodb/table.js';
import type { AwsConnection } from './clients.js';
import { createEc2Api } from './ec2.js';
import { createEcsApi } from './ecs.js';
import { createElbv2Api, toElbTags } from './elbv2.js';
import { checkAccount } from './index.js';
import { createRoute53Api } from './route53.js';
import { createLogsApi, logGroupName } from './logs.js';
import { awsSettings, connectionFor, findListener, findShared } from './shared.js';
import { createStsApi } from './sts.js';

export interface BootstrapStep {
  piece: string;
  outcome: 'found' | 'created' | 'missing';
  detail: string;
}

export interface BootstrapReport {
  env: string;
  account: string;
  steps: BootstrapStep[];
  /** Settings to pin in berth.config.yaml (berth finds them by name otherwise). */
  settings: Record<string, unknown>;
}

export async function bootstrapAwsEnvironment(
  env: EnvironmentConfig,
  options: { connection?: Partial<AwsConnection>; onStep?: (step: BootstrapStep) => void } = {},
): Promise<BootstrapReport> {
  const settings = awsSettings(env);
  const connection = connectionFor(settings, options.connection);
  const sts = createStsApi(connection);
  const ecs = createEcsApi(connection);
  const elbv2 = createElbv2Api(connection);
  const ec2 = createEc2Api(connection);
  const route53 = createRoute53Api(connection);
  const dynamo = createDynamoClient(connection);
  const logs = createLogsApi(connection);
  const tags = { [TAG_MANAGED_BY]: MANAGED_BY_VALUE, [TAG_ENV]: env.name };
  const steps: BootstrapStep[] = [];
  const record = (step: BootstrapStep) => {
    steps.push(step);
    options.onStep?.(step);
  };

  try {
    const caller = await sts.getCallerIdentity();
    checkAccount(env, caller.account, caller.arn);

    // ECS cluster
    const cluster = (await ecs.describeClusters({ clusters: [settings.cluster] })).clusters?.find(
      (c) => c.status === 'ACTIVE',
    );
    if (cluster) {
      record({ piece: 'ecs cluster', outcome: 'found', detail: cluster.clusterArn ?? settings.cluster });
    } else {
      const out = await ecs.createCluster({
        clusterName: settings.cluster,
        tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
      });
      record({
        piece: 'ecs cluster',
        outcome: 'created',
        detail: out.cluster?.clusterArn ?? settings.cluster,
      });
    }

    // ALB and listener
    let shared = await findShared(elbv2, settings);
    if (!shared) {
      let albArn = settings.albArn;
      if (!albArn) {
        const existing = await elbv2
          .describeLoadBalancers({ Names: [settings.albName] })
          .then((out) => out.LoadBalancers?.[0])
          .catch(() => undefined);
        albArn = existing?.LoadBalancerArn;
        if (albArn) {
          record({ piece: 'load balancer', outcome: 'found', detail: albArn });
        } else {
          const network = await defaultNetwork(
            ec2,
            settings.subnets,
            settings.securityGroups,
            settings.vpcId,
          );
          const out = await elbv2.createLoadBalancer({
            Name: settings.albName,
            Type: 'application',
            Scheme: 'internet-facing',
            Subnets: network.subnets,
            SecurityGroups: network.securityGroups,
            Tags: toElbTags(tags),
          });
          albArn = out.LoadBalancers?.[0]?.LoadBalancerArn;
          if (!albArn) throw new Error('CreateLoadBalancer returned no load balancer');
          record({ piece: 'load balancer', outcome: 'created', detail: `${settings.albName} (${albArn})` });
        }
      }
      if (!(await findListener(elbv2, albArn))) {
        const out = await elbv2.createListener({
          LoadBalancerArn: albArn,
          Protocol: 'HTTP',
          Port: 80,
          DefaultActions: [
            {
              Type: 'fixed-response',
              FixedResponseConfig: {
                StatusCode: '404',
                ContentType: 'text/plain',
                MessageBody: 'no berth service here',
              },
            },
          ],
          Tags: toElbTags(tags),
        });
        record({ piece: 'listener', outcome: 'created', detail: out.Listeners?.[0]?.ListenerArn ?? '' });
      }
      shared = await findShared(elbv2, { ...settings, albArn });
      if (!shared) throw new Error(`the load balancer ${albArn} has no listener after creating one`);
    } else {
      record({ piece: 'load balancer', outcome: 'found', detail: shared.albArn });
    }
    if (!steps.some((s) => s.piece === 'listener')) {
      record({ piece: 'listener', outcome: 'found', detail: shared.listenerArn });
    }

    // Hosted zone: berth does not create zones (delegation is the domain owner's act).
    if (settings.hostedZoneId) {
      try {
        const zone = await route53.getHostedZone(settings.hostedZoneId);
        record({
          piece: 'hosted zone',
          outcome: 'found',
          detail: `${zone.HostedZone?.Name ?? ''} (${settings.hostedZoneId})`,
        });
      } catch (error) {
        if ((error as Error).name !== 'NoSuchHostedZone') throw error;
        record({
          piece: 'hosted zone',
          outcome: 'missing',
          detail: `${settings.hostedZoneId} does not exist`,
        });
      }
    } else {
      record({
        piece: 'hosted zone',
        outcome: 'missing',
        detail: 'no hostedZoneId: berth will not write DNS names',
      });
    }

    // Log group: tasks write to it (awslogs driver), berth logs reads it.
    const logGroup = await logs.createLogGroup(logGroupName(env.name), tags);
    record({ piece: 'log group', outcome: logGroup, detail: logGroupName(env.name) });

    // State table
    const table = await ensureTable(dynamo, settings.table);
    record({ piece: 'state table', outcome: table, detail: settings.table });

    return {
      env: env.name,
      account: caller.account,
      steps,
      settings: {
        cluster: settings.cluster,
        albArn: shared.albArn,
        listenerArn: shared.listenerArn,
        vpcId: shared.vpcId,
        subnets: shared.subnets,
        securityGroups: shared.securityGroups,
        table: settings.table,
      },
    };
  } finally {
    for (const client of [sts, ecs, elbv2, ec2, route53, logs]) client.destroy();
    dynamo.destroy();
  }
}

/** The configured network, else the default VPC's subnets (one per zone) and default security group. */
async function defaultNetwork(
  ec2: ReturnType<typeof createEc2Api>,
  subnets: string[] | undefined,
  securityGroups: string[] | undefined,
  vpcId: string | undefined,
): Promise<{ subnets: string[]; securityGroups: string[] }> {
  if (subnets && securityGroups) return { subnets, securityGroups };
  const vpc =
    vpcId ??
    (await ec2.describeVpcs({ Filters: [{ Name: 'isDefault', Values: ['true'] }] })).Vpcs?.[0]?.VpcId;
  if (!vpc) {
    throw new UserError('there is no default VPC to put the load balancer in', {
      hint: 'set aws.subnets and aws.securityGroups (or aws.vpcId) for the environment',
    });
  }
  const found = (await ec2.describeSubnets({ Filters: [{ Name: 'vpc-id', Values: [vpc] }] })).Subnets ?? [];
  const byZone = new Map<string, string>();
  for (const subnet of found) {
    if (subnet.AvailabilityZone && subnet.SubnetId && !byZone.has(subnet.AvailabilityZone)) {
      byZone.set(subnet.AvailabilityZone, subnet.SubnetId);
    }
  }
  const groups =
    (
      await ec2.describeSecurityGroups({
        Filters: [
          { Name: 'vpc-id', Values: [vpc] },
          { Name: 'group-name', Values: ['default'] },
        ],
      })
    ).SecurityGroups?.map((group) => group.GroupId!) ?? [];
  return { subnets: subnets ?? [...byZone.values()], securityGroups: securityGroups ?? groups };
}
