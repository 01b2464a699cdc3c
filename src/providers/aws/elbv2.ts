/** The Elastic Load Balancing v2 calls berth makes, and nothing else; plus paging helpers. */
import {
  AddTagsCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DescribeAccountLimitsCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  type AddTagsCommandInput,
  type CreateListenerCommandInput,
  type CreateListenerCommandOutput,
  type CreateLoadBalancerCommandInput,
  type CreateLoadBalancerCommandOutput,
  type CreateRuleCommandInput,
  type CreateRuleCommandOutput,
  type CreateTargetGroupCommandInput,
  type CreateTargetGroupCommandOutput,
  type DescribeAccountLimitsCommandInput,
  type DescribeAccountLimitsCommandOutput,
  type DescribeListenersCommandInput,
  type DescribeListenersCommandOutput,
  type DescribeLoadBalancersCommandInput,
  type DescribeLoadBalancersCommandOutput,
  type DescribeRulesCommandInput,
  type DescribeRulesCommandOutput,
  type DescribeTagsCommandInput,
  type DescribeTagsCommandOutput,
  type DescribeTargetGroupsCommandInput,
  type DescribeTargetGroupsCommandOutput,
  type ModifyRuleCommandInput,
  type ModifyRuleCommandOutput,
  type ModifyTargetGroupCommandInput,
  type Rule,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';

import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';

import type { Tags } from '../../core/tags.js';
import { clientConfig, prepareClient, type AwsConnection } from './clients.js';

/** AWS allows 5 condition values per rule. */
export const HOSTS_PER_RULE = 5;

/** ELBv2 pages hold up to 400 items; DescribeTags takes up to 20 ARNs. */
export const ELB_PAGE_SIZE = 400;
export const ELB_TAGS_BATCH = 20;

export interface Elbv2Api {
  describeLoadBalancers(
    input: DescribeLoadBalancersCommandInput,
  ): Promise<DescribeLoadBalancersCommandOutput>;
  createLoadBalancer(input: CreateLoadBalancerCommandInput): Promise<CreateLoadBalancerCommandOutput>;
  describeListeners(input: DescribeListenersCommandInput): Promise<DescribeListenersCommandOutput>;
  createListener(input: CreateListenerCommandInput): Promise<CreateListenerCommandOutput>;
  describeRules(input: DescribeRulesCommandInput): Promise<DescribeRulesCommandOutput>;
  createRule(input: CreateRuleCommandInput): Promise<CreateRuleCommandOutput>;
  modifyRule(input: ModifyRuleCommandInput): Promise<ModifyRuleCommandOutput>;
  deleteRule(ruleArn: string): Promise<void>;
  describeTargetGroups(input: DescribeTargetGroupsCommandInput): Promise<DescribeTargetGroupsCommandOutput>;
  createTargetGroup(input: CreateTargetGroupCommandInput): Promise<CreateTargetGroupCommandOutput>;
  modifyTargetGroup(input: ModifyTargetGroupCommandInput): Promise<void>;
  /** Sets target group attributes (e.g. `deregistration_delay.timeout_seconds`). */
  setTargetGroupAttributes(targetGroupArn: string, attributes: Record<string, string>): Promise<void>;
  /** Every registered target of a group with its state (initial, healthy, unhealthy, draining, ...). */
  describeTargetHealth(targetGroupArn: string): Promise<TargetHealthDescription[]>;
  deleteTargetGroup(targetGroupArn: string): Promise<void>;
  describeTags(input: DescribeTagsCommandInput): Promise<DescribeTagsCommandOutput>;
  describeAccountLimits(
    input: DescribeAccountLimitsCommandInput,
  ): Promise<DescribeAccountLimitsCommandOutput>;
  addTags(input: AddTagsCommandInput): Promise<void>;
  destroy(): void;
}

export function createElbv2Api(connection: AwsConnection): Elbv2Api {
  const client = prepareClient(
    new ElasticLoadBalancingV2Client(clientConfig(connection)),
    'elbv2',
    connection,
  );
  return {
    describeLoadBalancers: (input) => client.send(new DescribeLoadBalancersCommand(input)),
    createLoadBalancer: (input) => client.send(new CreateLoadBalancerCommand(input)),
    describeListeners: (input) => client.send(new DescribeListenersCommand(input)),
    createListener: (input) => client.send(new CreateListenerCommand(input)),
    describeRules: (input) => client.send(new DescribeRulesCommand(input)),
    createRule: (input) => client.send(new CreateRuleCommand(input)),
    modifyRule: (input) => client.send(new ModifyRuleCommand(input)),
    deleteRule: async (RuleArn) => void (await client.send(new DeleteRuleCommand({ RuleArn }))),
    describeTargetGroups: (input) => client.send(new DescribeTargetGroupsCommand(input)),
    createTargetGroup: (input) => client.send(new CreateTargetGroupCommand(input)),
    modifyTargetGroup: async (input) => void (await client.send(new ModifyTargetGroupCommand(input))),
    setTargetGroupAttributes: async (TargetGroupArn, attributes) =>
      void (await client.send(
        new ModifyTargetGroupAttributesCommand({
          TargetGroupArn,
          Attributes: Object.entries(attributes).map(([Key, Value]) => ({ Key, Value })),
        }),
      )),
    describeTargetHealth: async (TargetGroupArn) =>
      (await client.send(new DescribeTargetHealthCommand({ TargetGroupArn }))).TargetHealthDescriptions ?? [],
    deleteTargetGroup: async (TargetGroupArn) =>
      void (await client.send(new DeleteTargetGroupCommand({ TargetGroupArn }))),
    describeTags: (input) => client.send(new DescribeTagsCommand(input)),
    describeAccountLimits: (input) => client.send(new DescribeAccountLimitsCommand(input)),
    addTags: async (input) => void (await client.send(new AddTagsCommand(input))),
    destroy: () => client.destroy(),
  };
}

/** Every rule of a listener, a page of 400 at a time. */
export async function listRules(api: Elbv2Api, listenerArn: string): Promise<Rule[]> {
  const rules: Rule[] = [];
  let marker: string | undefined;
  do {
    const page = await api.describeRules({
      ListenerArn: listenerArn,
      PageSize: ELB_PAGE_SIZE,
      Marker: marker,
    });
    rules.push(...(page.Rules ?? []));
    marker = page.NextMarker;
  } while (marker);
  return rules;
}

/** Every target group in the region (or of the named ARNs), a page of 400 at a time. */
export async function listTargetGroups(api: Elbv2Api): Promise<TargetGroup[]> {
  const groups: TargetGroup[] = [];
  let marker: string | undefined;
  do {
    const page = await api.describeTargetGroups({ PageSize: ELB_PAGE_SIZE, Marker: marker });
    groups.push(...(page.TargetGroups ?? []));
    marker = page.NextMarker;
  } while (marker);
  return groups;
}

/** The tags of many resources, 20 ARNs per call. */
export async function tagsOf(api: Elbv2Api, arns: string[]): Promise<Map<string, Tags>> {
  const result = new Map<string, Tags>();
  for (let i = 0; i < arns.length; i += ELB_TAGS_BATCH) {
    const out = await api.describeTags({ ResourceArns: arns.slice(i, i + ELB_TAGS_BATCH) });
    for (const description of out.TagDescriptions ?? []) {
      const tags: Tags = {};
      for (const tag of description.Tags ?? []) if (tag.Key) tags[tag.Key] = tag.Value ?? '';
      if (description.ResourceArn) result.set(description.ResourceArn, tags);
    }
  }
  return result;
}

export function toElbTags(tags: Tags): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/** Listener rule priorities run from 1 to 50,000; the default rule has none. */
const MAX_PRIORITY = 50_000;

/**
 * Creates a listener rule at the lowest free priority. berth owns the priorities of its rules:
 * another writer may take the same priority at the same moment (PriorityInUse), in which case
 * the next free one is tried.
 */
export function createRuleAtFreePriority(
  api: Elbv2Api,
  input: Omit<CreateRuleCommandInput, 'Priority'> & { ListenerArn: string },
): Promise<Rule> {
  // Within one process, rules of one listener are made one at a time (no PriorityInUse among
  // parallel deploys); other processes still race, which the retry below absorbs.
  const previous = listenerQueues.get(input.ListenerArn) ?? Promise.resolve();
  const run = previous.then(() => createRuleNow(api, input));
  const settled = run.catch(() => undefined);
  listenerQueues.set(input.ListenerArn, settled);
  void settled.then(() => {
    if (listenerQueues.get(input.ListenerArn) === settled) listenerQueues.delete(input.ListenerArn);
  });
  return run;
}

const listenerQueues = new Map<string, Promise<unknown>>();

async function createRuleNow(
  api: Elbv2Api,
  input: Omit<CreateRuleCommandInput, 'Priority'> & { ListenerArn: string },
): Promise<Rule> {
  for (let attempt = 0; ; attempt++) {
    const used = new Set(
      (await listRules(api, input.ListenerArn)).map((rule) => Number(rule.Priority)).filter(Number.isFinite),
    );
    let priority = 1;
    while (used.has(priority)) priority++;
    if (priority > MAX_PRIORITY) throw new Error(`listener ${input.ListenerArn} has no free rule priority`);
    try {
      const out = await api.createRule({ ...input, Priority: priority });
      const rule = out.Rules?.[0];
      if (!rule) throw new Error('CreateRule returned no rule');
      return rule;
    } catch (error) {
      if ((error as Error).name !== 'PriorityInUseException' || attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * (attempt + 1)));
    }
  }
}

/** The target group of a forward action, weighted or not, with its weight. */
export function forwardTargets(action: Action): { arn: string; weight: number }[] {
  if (action.Type !== 'forward') return [];
  const weighted = (action.ForwardConfig?.TargetGroups ?? [])
    .filter((g) => g.TargetGroupArn)
    .map((g) => ({ arn: g.TargetGroupArn!, weight: g.Weight ?? 1 }));
  if (weighted.length) return weighted;
  return action.TargetGroupArn ? [{ arn: action.TargetGroupArn, weight: 1 }] : [];
}

export function ruleTargets(rule: Rule): { arn: string; weight: number }[] {
  return (rule.Actions ?? []).flatMap(forwardTargets);
}

/** A forward action to weighted target groups (ALB allows 5 per action). */
export function forwardAction(targets: { arn: string; weight: number }[]): Action {
  return {
    Type: 'forward',
    ForwardConfig: { TargetGroups: targets.map((t) => ({ TargetGroupArn: t.arn, Weight: t.weight })) },
  };
}
