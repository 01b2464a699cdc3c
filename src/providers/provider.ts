/**
 * Providers observe and change resources; they know nothing of the engine or of berth's state.
 *
 * Contract for every ResourceDriver:
 * - `observeAll(scope)` returns every resource of its kind tagged `berth:managed-by=berth` in the
 *   scope's environment, using list calls, never one call per resource; with a service, that
 *   service's resources found by tag, name or id (scope.known), at a cost that does not grow with
 *   the environment.
 * - `create`, `update` and `delete` are idempotent: deleting what is already gone resolves
 *   'already-gone'; updating what is gone resolves null (the caller then creates).
 * - `diff(desired, observed)` returns the fields that differ; an empty list means in sync.
 * - Errors worth retrying are TransientError; anything else fails the step that called it.
 */
import type { ResourceKind } from '../state/store.js';
import type { EnvironmentConfig, ProviderName, ServiceSpec } from '../spec/types.js';
import type { Tags } from '../core/tags.js';
import type { HostnameOwner } from '../spec/hostnames.js';

export interface ObserveScope {
  env: string;
  /**
   * One service: a driver then finds that service's resources by name, id or tag, never by
   * listing the environment, so that a deploy costs the same however many services share it.
   */
  service?: string;
  /**
   * With `service`: the provider ids berth recorded for it (its inventory), for kinds whose
   * resources a provider cannot find by tag (e.g. DNS names); they are looked up one by one.
   */
  known?: string[];
}

/** What berth wants one resource to be. `attributes` is kind- and provider-specific. */
export interface DesiredResource {
  kind: ResourceKind;
  /** A stable key telling resources of one kind apart within a service (e.g. the host name). */
  key: string;
  attributes: Record<string, unknown>;
  tags: Tags;
  /** Where it will live, when the provider spreads resources (e.g. a route's load balancer). */
  location?: string;
}

export interface ObservedResource {
  kind: ResourceKind;
  providerId: string;
  /** Same meaning as DesiredResource.key, derived from what exists. */
  key: string;
  /** A human name for listings (service name, host, record name). */
  name: string;
  attributes: Record<string, unknown>;
  tags: Tags;
  /** Health as the provider reports it, when the kind has one. */
  health?: ResourceHealth;
  /** Where it lives, when the provider spreads resources (e.g. a route's load balancer). */
  location?: string;
}

export interface ResourceHealth {
  state: 'healthy' | 'progressing' | 'unhealthy' | 'unknown';
  detail: string;
}

export interface DriftField {
  field: string;
  desired: unknown;
  observed: unknown;
}

export interface ResourceDriver {
  readonly kind: ResourceKind;
  observeAll(scope: ObserveScope): Promise<ObservedResource[]>;
  create(desired: DesiredResource): Promise<ObservedResource>;
  update(providerId: string, desired: DesiredResource): Promise<ObservedResource | null>;
  delete(providerId: string): Promise<'deleted' | 'already-gone'>;
  diff(desired: DesiredResource, observed: ObservedResource): DriftField[];
}

/** Everything the engine needs to know to wire one generation of a service. */
export interface DesiredContext {
  env: EnvironmentConfig;
  spec: ServiceSpec;
  generation: number;
  /** The compute that should receive traffic (routes point at it). */
  computeId?: string;
}

export interface ComputeReadiness {
  /** All desired replicas are healthy (or zero are desired). */
  ready: boolean;
  /** The replicas cannot become healthy without a change (they keep exiting): stop waiting. */
  failed: boolean;
  healthy: number;
  desired: number;
  detail: string;
  /** Each replica's state, when the provider sees replicas one by one (the local runtime does). */
  replicas?: ReplicaReadiness[];
}

/** One replica as a deploy waits for it: its state and why it is not healthy yet. */
export interface ReplicaReadiness {
  index: number;
  /** starting, healthy, unhealthy, crashed, ... */
  state: string;
  /** The last health check's result ("GET /ready → 404", "connection refused"); null before one answered. */
  lastCheck: string | null;
  /** How its last run ended ("code 1", "signal SIGKILL", "spawn failed: ..."); null if it never ended. */
  lastExit: string | null;
  restarts: number;
}

export interface LogQuery {
  service: string;
  computeId: string | null;
  startTime: number;
  limit: number;
}

export interface LogLine {
  /** Milliseconds since the epoch; null when the provider keeps no times (local replica files). */
  time: number | null;
  /** Which task or replica printed it. */
  source: string;
  message: string;
}

export interface VerifiedIdentity {
  /** What the environment's `identity` is compared with (runtime instance id, AWS account id). */
  id: string;
  /** Shown in banners: e.g. "runtime 3f2a… on host1" or "account 123456789012 (eu-west-1)". */
  description: string;
}

/** A change made to a provider's resources by someone other than berth (CloudTrail's view). */
export interface ProviderActivity {
  time: string;
  actor: string;
  service: string | null;
  description: string;
}

export interface Provider {
  readonly name: ProviderName;
  readonly drivers: Record<ResourceKind, ResourceDriver>;
  identity(): Promise<VerifiedIdentity>;
  /** The host names a service answers at in an environment (generated name first). */
  hostnames(spec: ServiceSpec, env: EnvironmentConfig): string[];
  /**
   * Optional: who the provider routes each of these (normalized) host names to now, across every
   * environment that shares it, from the route tags; names routed nowhere are left out. The engine
   * refuses a deploy that claims a name another service holds.
   */
  hostnameHolders?(hosts: string[]): Promise<{ host: string; owner: HostnameOwner }[]>;
  /** URLs users reach the service at. */
  urls(spec: ServiceSpec, env: EnvironmentConfig): Promise<string[]>;
  /** The desired resources of one kind for a spec (one compute; a route and DNS name per host; one health check). */
  desired(kind: ResourceKind, context: DesiredContext): DesiredResource[];
  readiness(computeId: string): Promise<ComputeReadiness>;
  /**
   * How long to wait between readiness checks: short for a local runtime (a deploy should not lag
   * its replicas' start), long enough on a cloud to stay within the account's shared API budget.
   */
  readonly readinessPollMs: number;
  /**
   * Changes made to the environment's resources behind berth's back in a window (ISO times), when
   * the provider keeps such a record; incident timelines show them beside berth's own events.
   */
  activity?(env: string, window: { since: string; until: string }): Promise<ProviderActivity[]>;
  /**
   * True when the code a spec runs would run with berth's own privileges on berth's own machine
   * (the local runtime without a separate replica user): it could read berth's data dir, its
   * tokens included. Deciding what runs is then an admin's call. Absent: code runs elsewhere.
   */
  runsCodeWithBerthPrivileges?(): Promise<boolean>;
  /** The last lines each replica printed, for explaining a failed health step. */
  recentLogs(computeId: string, lines: number): Promise<string[]>;
  /**
   * What a service's replicas printed (`berth logs`), oldest first, at most `limit` lines, since
   * `startTime` (ms) where the provider keeps times (AWS: CloudWatch Logs); `computeId` is the
   * serving compute (the local runtime reads its replicas' files).
   */
  logs?(query: LogQuery): Promise<LogLine[]>;
  /**
   * Optional: calls `onChange` soon after anything of the environment may have changed (a cheap
   * change feed), until `signal` aborts. Providers without one are polled by the reconciler's resync.
   */
  watch?(env: string, onChange: () => void, signal: AbortSignal): void;
  close(): Promise<void>;
}
