/**
 * An environment's pool of load balancers. One ALB holds at most 100 listener rules and 100
 * target groups (AWS quotas), and each service takes one rule (per five host names) and, while a
 * new generation starts beside the serving one, two target groups. So an environment uses as many
 * ALBs as it needs: `berth-<env>` (made by `env init`), then `berth-<env>-2`, `-3`, ... each with
 * one listener configured like the first. A service lives on one ALB (its target groups carry the
 * tag `berth:alb`), and its DNS name points at that ALB.
 *
 * A new service goes to the newest ALB that has room below its quotas minus a reserve (10%: for
 * new generations' target groups, services that grow more host names, and other control planes
 * placing at the same moment); when none has room, the next ALB is made, if the region's ALB quota
 * allows. Placing reads one ALB's rules (one page: an ALB holds at most 100), never the whole
 * environment.
 */
import type { Listener, LoadBalancer, Rule } from '@aws-sdk/client-elastic-load-balancing-v2';

import { UserError } from '../../core/errors.js';
import { MANAGED_BY_VALUE, TAG_ENV, TAG_MANAGED_BY, type Tags } from '../../core/tags.js';
import { awsErrorName } from './clients.js';
import { ELB_PAGE_SIZE, listRules, ruleTargets, toElbTags, type Elbv2Api } from './elbv2.js';
import { missingShared, type ResolvedAwsSettings, type SharedPieces } from './shared.js';

/** The tag on a service's target groups naming the ALB its rules are on. */
export const TAG_ALB = 'berth:alb';

export interface PoolMember {
  /** 1 for the environment's first ALB, then 2, 3, ... */
  index: number;
  name: string;
  arn: string;
  dnsName: string;
}

/** The Elastic Load Balancing quotas berth plans with (DescribeAccountLimits, else AWS's defaults). */
export interface ElbLimits {
  rulesPerAlb: number;
  targetGroupsPerAlb: number;
  albsPerRegion: number;
  targetGroupsPerRegion: number;
}

export const DEFAULT_LIMITS: ElbLimits = {
  rulesPerAlb: 100,
  targetGroupsPerAlb: 100,
  albsPerRegion: 50,
  targetGroupsPerRegion: 3000,
};

/** What one ALB holds now: berth counts it from the listener's rules. */
export interface MemberUse {
  member: PoolMember;
  rules: number;
  targetGroups: number;
}

/** The Service Quotas names, so that a refusal says exactly what to raise. */
export const QUOTA_NAMES = {
  rulesPerAlb: 'Rules per Application Load Balancer',
  targetGroupsPerAlb: 'Target groups per Application Load Balancer',
  albsPerRegion: 'Application Load Balancers per Region',
  targetGroupsPerRegion: 'Target groups per Region',
} as const;

/**
 * A deploy that cannot fit within a quota: refused before anything changes (exit 1). The message
 * itself says how to raise the quota, because an operation's record keeps only the message.
 */
export function quotaError(quota: keyof ElbLimits, detail: string, adjustable = true): UserError {
  const name = QUOTA_NAMES[quota];
  const raise = adjustable
    ? `raise it in Service Quotas (Elastic Load Balancing > "${name}") or remove services from the environment`
    : `it cannot be raised: remove services from the environment or use another environment`;
  return new UserError(`AWS quota "${name}" would be exceeded: ${detail}; ${raise}`, {
    code: 'quota_exceeded',
    exitCode: 1,
    hint: adjustable
      ? `aws service-quotas list-service-quotas --service-code elasticloadbalancing shows the quota's code; aws service-quotas request-service-quota-increase --service-code elasticloadbalancing --quota-code CODE --desired-value N asks for more`
      : undefined,
  });
}

/** The share of each ALB's quotas kept free (see the file's comment). */
export function reserveOf(quota: number): number {
  return Math.max(1, Math.ceil(quota * 0.1));
}

/** `…:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>` -> the listener's and the ALB's ARNs. */
export function ruleParents(
  ruleArn: string,
): { listenerArn: string; albArn: string; albName: string } | null {
  const match = ruleArn.match(
    /^(arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:)listener-rule\/app\/([^/]+)\/([^/]+)\/([^/]+)\//,
  );
  if (!match) return null;
  const [, prefix, name, lbId, listenerId] = match;
  return {
    listenerArn: `${prefix}listener/app/${name}/${lbId}/${listenerId}`,
    albArn: `${prefix}loadbalancer/app/${name}/${lbId}`,
    albName: name!,
  };
}

/** The name of the pool's ALB number `index` (the first keeps `env init`'s name). */
export function memberName(base: string, index: number): string {
  if (index === 1) return base;
  const suffix = `-${index}`;
  return `${base.slice(0, 32 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** A service's rules on its ALB (those that forward to any of its target groups). */
export interface Attachment {
  member: PoolMember;
  listenerArn: string;
  rules: Rule[];
}

export interface PoolDeps {
  elbv2: Elbv2Api;
  settings: ResolvedAwsSettings;
  shared(): Promise<SharedPieces>;
}

export class AlbPool {
  private membersCache: Promise<PoolMember[]> | null = null;
  private regionAlbs = 0;
  private readonly listeners = new Map<string, Promise<string>>();
  private limitsCache: Promise<ElbLimits> | null = null;
  /** Rules this process is about to create, by ALB name (counted until the creator is done). */
  private readonly pending = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Which ALB each service is on, as last seen (observation, placement). */
  readonly placements = new Map<string, PoolMember>();

  constructor(private readonly deps: PoolDeps) {}

  /** The pool's ALBs, first one first (looked up once; `refresh` after making one). */
  members(refresh = false): Promise<PoolMember[]> {
    if (refresh || !this.membersCache) {
      this.membersCache = this.discover();
      this.membersCache.catch(() => (this.membersCache = null));
    }
    return this.membersCache;
  }

  async member(name: string): Promise<PoolMember | undefined> {
    const found = (await this.members()).find((m) => m.name === name);
    return found ?? (await this.members(true)).find((m) => m.name === name);
  }

  /** Application load balancers in the region, as of the last look at the pool. */
  albsInRegion(): number {
    return this.regionAlbs;
  }

  /** The ALB a service was last seen on (or placed on), if known. */
  placementOf(service: string): PoolMember | undefined {
    return this.placements.get(service);
  }

  /** Remembers where a service was seen (its rules' ALB, or its target groups' tag). */
  async notePlacement(service: string, albName: string): Promise<PoolMember | undefined> {
    const member = await this.member(albName);
    if (member) this.placements.set(service, member);
    return member;
  }

  /** The listener berth puts rules on, of one ALB (looked up once per ALB). */
  listenerOf(member: PoolMember): Promise<string> {
    let listener = this.listeners.get(member.arn);
    if (!listener) {
      listener = (async () => {
        const shared = await this.deps.shared();
        if (member.arn === shared.albArn && shared.listenerArn) return shared.listenerArn;
        const listeners = (await this.deps.elbv2.describeListeners({ LoadBalancerArn: member.arn }))
          .Listeners;
        const pick = pickListener(listeners ?? []);
        if (!pick?.ListenerArn)
          throw missingShared(this.deps.settings, `listener on load balancer ${member.name}`);
        return pick.ListenerArn;
      })();
      listener.catch(() => this.listeners.delete(member.arn));
      this.listeners.set(member.arn, listener);
    }
    return listener;
  }

  /** The account's ELB quotas (DescribeAccountLimits, once; AWS's defaults when it is not allowed). */
  limits(): Promise<ElbLimits> {
    this.limitsCache ??= this.deps.elbv2
      .describeAccountLimits({})
      .then((out) => {
        const limit = (name: string, fallback: number) => {
          const value = Number(out.Limits?.find((l) => l.Name === name)?.Max);
          return Number.isFinite(value) && value > 0 ? value : fallback;
        };
        return {
          rulesPerAlb: limit('rules-per-application-load-balancer', DEFAULT_LIMITS.rulesPerAlb),
          targetGroupsPerAlb: limit(
            'target-groups-per-application-load-balancer',
            DEFAULT_LIMITS.targetGroupsPerAlb,
          ),
          albsPerRegion: limit('application-load-balancers', DEFAULT_LIMITS.albsPerRegion),
          targetGroupsPerRegion: limit('target-groups', DEFAULT_LIMITS.targetGroupsPerRegion),
        };
      })
      .catch(() => DEFAULT_LIMITS);
    return this.limitsCache;
  }

  /**
   * The rules that forward to a service's target groups (by ARN, with their tags), on the ALB their
   * `berth:alb` tag names: one page of that ALB's rules. Target groups made before berth had a pool
   * carry no such tag and are on the first ALB. With `host`, rules for that host name count too
   * (a rule pointed elsewhere behind berth's back is still the service's).
   */
  async serviceRules(service: string, groups: Map<string, Tags>, host?: string): Promise<Attachment | null> {
    const members: PoolMember[] = [];
    for (const name of new Set([...groups.values()].map((tags) => tags[TAG_ALB]))) {
      const member = name ? await this.member(name) : (await this.members()).find((m) => m.index === 1);
      if (member && !members.includes(member)) members.push(member);
    }
    for (const member of members) {
      const listenerArn = await this.listenerOf(member);
      const rules = (await listRules(this.deps.elbv2, listenerArn)).filter(
        (rule) =>
          !rule.IsDefault &&
          (ruleTargets(rule).some((target) => groups.has(target.arn)) ||
            (host !== undefined && ruleHosts(rule).includes(host))),
      );
      if (rules.length) {
        if (service) this.placements.set(service, member);
        return { member, listenerArn, rules };
      }
    }
    return null;
  }

  /** Rules and target groups on one ALB's listener now (one page of rules). */
  async use(member: PoolMember): Promise<MemberUse> {
    const rules = (await listRules(this.deps.elbv2, await this.listenerOf(member))).filter(
      (r) => !r.IsDefault,
    );
    const groups = new Set(rules.flatMap((rule) => ruleTargets(rule).map((target) => target.arn)));
    return { member, rules: rules.length, targetGroups: groups.size };
  }

  /**
   * Picks the ALB for a service that has none yet and holds room for `rules` rules on it until
   * `done()` is called (after the rules were created, or failed). Makes the next ALB when every
   * one is full; refuses, naming the quota, when the region cannot hold another.
   */
  place(service: string, rules: number): Promise<{ member: PoolMember; done(): void }> {
    const run = this.queue.then(() => this.placeNow(service, rules));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async placeNow(service: string, rules: number): Promise<{ member: PoolMember; done(): void }> {
    const limits = await this.limits();
    const ruleRoom = limits.rulesPerAlb - reserveOf(limits.rulesPerAlb);
    const groupRoom = limits.targetGroupsPerAlb - reserveOf(limits.targetGroupsPerAlb);
    if (rules > ruleRoom) {
      throw quotaError(
        'rulesPerAlb',
        `${service} needs ${rules} listener rules (5 host names each) and one load balancer holds ${limits.rulesPerAlb}`,
      );
    }
    const members = [...(await this.members())].sort((a, b) => b.index - a.index);
    for (const member of members) {
      const use = await this.use(member);
      const pending = this.pending.get(member.name) ?? 0;
      if (use.rules + pending + rules <= ruleRoom && use.targetGroups + pending + 1 <= groupRoom) {
        return this.hold(service, member, rules);
      }
    }
    return this.hold(service, await this.grow(limits), rules);
  }

  private hold(service: string, member: PoolMember, rules: number) {
    this.pending.set(member.name, (this.pending.get(member.name) ?? 0) + rules);
    this.placements.set(service, member);
    let released = false;
    return {
      member,
      done: () => {
        if (released) return;
        released = true;
        this.pending.set(member.name, Math.max(0, (this.pending.get(member.name) ?? 0) - rules));
      },
    };
  }

  /** Makes the pool's next ALB and its listener (configured like the first ALB's). */
  private async grow(limits: ElbLimits): Promise<PoolMember> {
    const members = await this.members(true);
    if (this.regionAlbs + 1 > limits.albsPerRegion) {
      throw quotaError(
        'albsPerRegion',
        `every load balancer of environment ${this.deps.settings.env} is full (${members.length} in use) and the region already has ${this.regionAlbs} of ${limits.albsPerRegion}`,
      );
    }
    const shared = await this.deps.shared();
    const index = Math.max(...members.map((m) => m.index)) + 1;
    const name = memberName(this.deps.settings.albName, index);
    const tags = toElbTags({ [TAG_MANAGED_BY]: MANAGED_BY_VALUE, [TAG_ENV]: this.deps.settings.env });
    const first = (await this.deps.elbv2.describeLoadBalancers({ LoadBalancerArns: [shared.albArn] }))
      .LoadBalancers?.[0];
    // CreateLoadBalancer with the same name and settings returns the existing one (idempotent).
    const out = await this.deps.elbv2.createLoadBalancer({
      Name: name,
      Type: 'application',
      Scheme: first?.Scheme ?? 'internet-facing',
      Subnets: shared.subnets,
      SecurityGroups: shared.securityGroups,
      Tags: tags,
    });
    const alb = out.LoadBalancers?.[0];
    if (!alb?.LoadBalancerArn) throw new Error('CreateLoadBalancer returned no load balancer');
    const firstMember = members.find((m) => m.index === 1);
    const templateArn = firstMember ? await this.listenerOf(firstMember) : shared.listenerArn;
    const template = (await this.deps.elbv2.describeListeners({ ListenerArns: [templateArn] }))
      .Listeners?.[0];
    const existing = pickListener(
      (await this.deps.elbv2.describeListeners({ LoadBalancerArn: alb.LoadBalancerArn })).Listeners ?? [],
    );
    if (!existing) {
      await this.deps.elbv2.createListener({
        LoadBalancerArn: alb.LoadBalancerArn,
        Protocol: template?.Protocol ?? 'HTTP',
        Port: template?.Port ?? 80,
        ...(template?.Certificates?.length ? { Certificates: template.Certificates } : {}),
        ...(template?.SslPolicy ? { SslPolicy: template.SslPolicy } : {}),
        DefaultActions: template?.DefaultActions?.length
          ? template.DefaultActions
          : [
              {
                Type: 'fixed-response',
                FixedResponseConfig: {
                  StatusCode: '404',
                  ContentType: 'text/plain',
                  MessageBody: 'no berth service here',
                },
              },
            ],
        Tags: tags,
      });
    }
    const member = toMember(alb, index);
    const refreshed = await this.members(true);
    return refreshed.find((m) => m.name === member.name) ?? member;
  }

  private async discover(): Promise<PoolMember[]> {
    const shared = await this.deps.shared();
    const base = this.deps.settings.albName;
    const members: PoolMember[] = [];
    let marker: string | undefined;
    let regionAlbs = 0;
    do {
      const page = await this.deps.elbv2.describeLoadBalancers({ PageSize: ELB_PAGE_SIZE, Marker: marker });
      for (const alb of page.LoadBalancers ?? []) {
        if (alb.Type && alb.Type !== 'application') continue;
        regionAlbs += 1;
        if (alb.LoadBalancerArn === shared.albArn) members.push(toMember(alb, 1));
        else {
          const index = Number(alb.LoadBalancerName?.match(/-(\d+)$/)?.[1]);
          if (index >= 2 && memberName(base, index) === alb.LoadBalancerName)
            members.push(toMember(alb, index));
        }
      }
      marker = page.NextMarker;
    } while (marker);
    if (!members.some((m) => m.index === 1)) {
      members.push({ index: 1, name: base, arn: shared.albArn, dnsName: shared.albDnsName });
    }
    this.regionAlbs = regionAlbs;
    return members.sort((a, b) => a.index - b.index);
  }
}

function toMember(alb: LoadBalancer, index: number): PoolMember {
  return {
    index,
    name: alb.LoadBalancerName ?? '',
    arn: alb.LoadBalancerArn ?? '',
    dnsName: (alb.DNSName ?? '').replace(/\.$/, '').toLowerCase(),
  };
}

/** A rule's host-header values, lower-case. */
export function ruleHosts(rule: Rule): string[] {
  const condition = rule.Conditions?.find((c) => c.Field === 'host-header');
  return (condition?.HostHeaderConfig?.Values ?? condition?.Values ?? []).map((v) => v.toLowerCase());
}

/** The listener berth uses on an ALB: HTTPS 443, else HTTP 80, else the first. */
export function pickListener(listeners: Listener[]): Listener | undefined {
  return listeners.find((l) => l.Port === 443) ?? listeners.find((l) => l.Port === 80) ?? listeners[0];
}

export function isNotFound(error: unknown): boolean {
  return ['LoadBalancerNotFoundException', 'ListenerNotFoundException'].includes(awsErrorName(error));
}
