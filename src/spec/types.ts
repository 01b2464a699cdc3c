/** The normalized shapes that the rest of berth works with; produced by src/spec/normalize.ts. */

export type DriftPolicy = 'heal' | 'report';

export interface HealthSpec {
  /** Path requested on each replica. Default "/". */
  path: string;
  /** Time between checks once a replica is up. Default 2000 ms. */
  intervalMs: number;
  /** Time a single check may take. Default 1000 ms. */
  timeoutMs: number;
  /** Consecutive successes before a replica gets traffic. Default 1. */
  healthyThreshold: number;
  /** Consecutive failures before a replica stops getting traffic. Default 3. */
  unhealthyThreshold: number;
}

/** A berth.yaml, resolved for one environment (its overrides applied). */
export interface ServiceSpec {
  name: string;
  /** How the local provider runs it: argv (never a shell) and an absolute working directory. */
  run?: { command: string[]; cwd: string };
  /** What the AWS provider runs. */
  image?: string;
  /** The port the service listens on (AWS container port; locally each replica gets $PORT). Default 8080. */
  port: number;
  /** 0–100. Default 1. */
  replicas: number;
  health: HealthSpec;
  /** Extra host names besides `<name>.<env>.<domain>`. */
  domains: string[];
  env: Record<string, string>;
  /**
   * Variables whose values come from the environment's secret store: variable -> secret name
   * (locally `berth secret set NAME`; on AWS an SSM parameter or a Secrets Manager ARN). Only the
   * names are part of the spec, so values never reach revisions, history, events or the API.
   */
  secrets?: Record<string, string>;
  /**
   * Loader variables (LD_*, DYLD_*, NODE_OPTIONS, an unsafe PATH...) that `env` may set after all;
   * absent when none (so that specs without it keep their hash).
   */
  allowLoaderEnv?: string[];
  protection: { deletion: boolean };
  drift: DriftPolicy;
}

export type ProviderName = 'local' | 'aws';

export interface LocalProviderSettings {
  /** Base domain of the generated host names: `<service>.<env>.<domain>`. Default "localhost". */
  domain: string;
}

export interface AwsProviderSettings {
  accountId: string;
  region: string;
  cluster?: string;
  listenerArn?: string;
  hostedZoneId?: string;
  domain?: string;
  table?: string;
  endpoint?: string;
  subnets?: string[];
  securityGroups?: string[];
  /** The ALB whose listener carries berth's rules (default: the one named `berth-<env>`). */
  albArn?: string;
  /** The VPC of the ALB and target groups (default: the ALB's). */
  vpcId?: string;
  /** The ECS task execution role (needed to pull from a private ECR repository). */
  executionRoleArn?: string;
}

/** One environment from berth.config.yaml. */
export interface EnvironmentConfig {
  name: string;
  provider: ProviderName;
  protected: boolean;
  /** Display colour for banners: one of the picocolors names (red, yellow, green, cyan, blue, magenta). */
  color: string;
  drift: DriftPolicy;
  /** How often the reconciler observes everything; default by provider (5 s local, 30 s aws). */
  resyncMs?: number;
  local?: LocalProviderSettings;
  aws?: AwsProviderSettings;
  /** The identity this environment must run against (local: runtime instance id; aws: account id). */
  identity?: string;
}

export interface BerthConfig {
  environments: Record<string, EnvironmentConfig>;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Where: a dotted path into the document, e.g. "health.interval" or "environments.staging.color". */
  path: string;
  message: string;
  /** What to do about it. */
  hint?: string;
  /** 1-based line in the source file, when known. */
  line?: number;
}

export interface Normalized<T> {
  /** Present only when there is no error-severity diagnostic. */
  config?: T;
  diagnostics: Diagnostic[];
}
