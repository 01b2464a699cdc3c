// Shared by the AWS benchmarks (bench/aws-deploy.mjs, bench/aws-sweep.mjs): the ALBs an
// environment of N services holds, as berth's pool leaves them. `env init` made the first; this
// adds one more (with its listener) per `perAlb` services, named as berth names pool members.
import { CreateListenerCommand, CreateLoadBalancerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { memberName } = await import(join(ROOT, 'dist/providers/aws/pool.js'));

/** AWS's tag list from a map. */
export const elbTags = (tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/**
 * ALBs 2..ceil(count / perAlb) of the pool of `env`, each with an HTTP listener on port 80.
 * Returns them in order as { name, dns (lower case), listenerArn }.
 */
export async function addPoolMembers(
  elbv2,
  { env, count, perAlb, subnets, securityGroups, tags, defaultActions },
) {
  const members = [];
  for (let index = 2; index <= Math.ceil(count / perAlb); index++) {
    const lb = (
      await elbv2.send(
        new CreateLoadBalancerCommand({
          Name: memberName(`berth-${env}`, index),
          Subnets: subnets,
          SecurityGroups: securityGroups,
          Scheme: 'internet-facing',
          Type: 'application',
          Tags: elbTags(tags),
        }),
      )
    ).LoadBalancers[0];
    const listener = (
      await elbv2.send(
        new CreateListenerCommand({
          LoadBalancerArn: lb.LoadBalancerArn,
          Protocol: 'HTTP',
          Port: 80,
          DefaultActions: defaultActions,
        }),
      )
    ).Listeners[0];
    members.push({
      name: lb.LoadBalancerName,
      dns: lb.DNSName.toLowerCase(),
      listenerArn: listener.ListenerArn,
    });
  }
  return members;
}
