/**
 * Route on AWS: a listener rule on the environment's ALB listener that sends the service's host
 * names (host-header condition, at most 5 values per rule) to the serving generation's target
 * group. berth manages the rules' priorities (lowest free one; see createRuleAtFreePriority).
 */
import type { Rule } from '@aws-sdk/client-elastic-load-balancing-v2';

import { diffFields } from '../diff.js';
import type { ObservedResource, ResourceDriver } from '../provider.js';
import { awsErrorName } from './clients.js';
import { createRuleAtFreePriority, listRules, tagsOf, toElbTags } from './elbv2.js';
import { TAG_PART, inScope, targetGroupNameOf, type AwsApis, type SharedPieces } from './shared.js';
import type { Tags } from '../../core/tags.js';

/** AWS allows 5 condition values per rule. */
export const HOSTS_PER_RULE = 5;

export interface RouteAttributes {
  hosts: string[];
  /** The target group (by name) the hosts are sent to. */
  targetGroup: string;
}

export interface RouteDeps {
  apis: AwsApis;
  shared(): Promise<SharedPieces>;
}

function hostsOf(rule: Rule): string[] {
  const condition = rule.Conditions?.find((c) => c.Field === 'host-header');
  return [...(condition?.HostHeaderConfig?.Values ?? condition?.Values ?? [])];
}

function targetOf(rule: Rule): string | undefined {
  const action = rule.Actions?.find((a) => a.Type === 'forward');
  return action?.TargetGroupArn ?? action?.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn;
}

function observed(rule: Rule, tags: Tags): ObservedResource {
  const hosts = hostsOf(rule);
  const attributes: RouteAttributes = { hosts, targetGroup: targetGroupNameOf(targetOf(rule)) ?? '' };
  return {
    kind: 'route',
    providerId: rule.RuleArn ?? '',
    key: hosts[0] ?? '',
    name: hosts.join(', '),
    attributes: attributes as unknown as Record<string, unknown>,
    tags,
  };
}

export function awsRouteDriver(deps: RouteDeps): ResourceDriver {
  const { apis } = deps;

  async function targetGroupArn(name: string): Promise<string> {
    const out = await apis.elbv2.describeTargetGroups({ Names: [name] });
    const arn = out.TargetGroups?.[0]?.TargetGroupArn;
    if (!arn) throw new Error(`target group ${name} does not exist (its compute is gone)`);
    return arn;
  }

  function ruleInput(want: RouteAttributes, tgArn: string) {
    return {
      Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: want.hosts } }],
      Actions: [{ Type: 'forward' as const, TargetGroupArn: tgArn }],
    };
  }

  async function describeRule(arn: string): Promise<Rule | null> {
    try {
      return (await apis.elbv2.describeRules({ RuleArns: [arn] })).Rules?.[0] ?? null;
    } catch (error) {
      if (awsErrorName(error) === 'RuleNotFoundException') return null;
      throw error;
    }
  }

  return {
    kind: 'route',

    async observeAll(scope) {
      const shared = await deps.shared().catch(() => null);
      if (!shared) return [];
      // One listing of the listener's rules (pages of 400) and their tags (20 per call).
      const rules = (await listRules(apis.elbv2, shared.listenerArn)).filter(
        (rule) => !rule.IsDefault && rule.RuleArn,
      );
      const tags = await tagsOf(
        apis.elbv2,
        rules.map((rule) => rule.RuleArn!),
      );
      return rules
        .map((rule) => ({ rule, tags: tags.get(rule.RuleArn!) ?? {} }))
        .filter(({ tags }) => inScope(tags, scope) && tags[TAG_PART] !== 'compute')
        .map(({ rule, tags }) => observed(rule, tags));
    },

    async create(desired) {
      const want = desired.attributes as unknown as RouteAttributes;
      const shared = await deps.shared();
      const rule = await createRuleAtFreePriority(apis.elbv2, {
        ListenerArn: shared.listenerArn,
        ...ruleInput(want, await targetGroupArn(want.targetGroup)),
        Tags: toElbTags(desired.tags),
      });
      return observed(rule, desired.tags);
    },

    async update(providerId, desired) {
      const want = desired.attributes as unknown as RouteAttributes;
      if (!(await describeRule(providerId))) return null;
      try {
        const out = await apis.elbv2.modifyRule({
          RuleArn: providerId,
          ...ruleInput(want, await targetGroupArn(want.targetGroup)),
        });
        await apis.elbv2.addTags({ ResourceArns: [providerId], Tags: toElbTags(desired.tags) });
        const rule = out.Rules?.[0] ?? (await describeRule(providerId));
        return rule ? observed(rule, desired.tags) : null;
      } catch (error) {
        if (awsErrorName(error) === 'RuleNotFoundException') return null;
        throw error;
      }
    },

    async delete(providerId) {
      try {
        await apis.elbv2.deleteRule(providerId);
        return 'deleted';
      } catch (error) {
        if (awsErrorName(error) === 'RuleNotFoundException') return 'already-gone';
        throw error;
      }
    },

    diff(desired, actual) {
      return diffFields(desired, actual, ['hosts', 'targetGroup']);
    },
  };
}
