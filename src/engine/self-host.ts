/**
 * berth deploys berth: the control plane as the service `berth`, described by an ordinary spec
 * and deployed, healed and recovered by the ordinary engine.
 *
 * - Locally, each replica is `berth up` bound to its $PORT, against one data dir: the replicas are
 *   peers sharing the state store (leases decide who reconciles what), and the runtime's proxy
 *   routes the service's hostname to whichever replicas are healthy.
 * - On AWS, it is an ECS service running berth's container image (Dockerfile at the repository's
 *   root) behind the ALB, with the environments it hosts handed over in $BERTH_CONFIG.
 *
 * The spec is recorded as a revision like any other, so that `recoverControlPlane` can redeploy it
 * from the store alone, with no berth.yaml at hand, when no control plane is left to heal itself.
 */
import { NotFoundError, UserError } from '../core/errors.js';
import type { Provider } from '../providers/provider.js';
import type { EnvironmentConfig, HealthSpec, ServiceSpec } from '../spec/types.js';
import type { RevisionRecord, StateStore } from '../state/store.js';
import type { DeployRequest, Engine, OperationOutcome } from './engine.js';
import { environmentStatus, type ServiceStatus } from './status.js';

/** The control plane's service name in every environment. */
export const CONTROL_PLANE_SERVICE = 'berth';

/** The container port berth's image listens on (it binds $PORT, which ECS does not set). */
export const CONTROL_PLANE_CONTAINER_PORT = 4000;

/** Where the container keeps its data dir (tokens, its copy of the config). */
export const CONTAINER_DATA_DIR = '/var/lib/berth';

export interface LocalControlPlane {
  /** How to start berth on this machine: the node binary and berth's bin/berth.js, absolute. */
  node: string;
  entry: string;
  /** The data dir every replica shares (the state store, tokens, the environment config). */
  dataDir: string;
}

export interface AwsControlPlane {
  /** berth's container image, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/berth:0.1.0 */
  image: string;
  /** The environments the control plane hosts (berth.config.yaml as JSON), for $BERTH_CONFIG. */
  config: string;
}

export interface ControlPlaneSpecInput {
  env: EnvironmentConfig;
  /** At least 2 for a control plane that survives losing one replica. Default 2. */
  replicas?: number;
  /** Extra host names besides `berth.<env>.<domain>`. */
  domains?: string[];
  /** Host headers the API accepts besides loopback: the names it is reached by (host or host:port). */
  allowHosts: string[];
  local?: LocalControlPlane;
  aws?: AwsControlPlane;
}

export const DEFAULT_CONTROL_PLANE_REPLICAS = 2;

/**
 * Health checks of the control plane: locally a replica is ready as soon as it answers once (a
 * quick recovery matters most when the control plane itself is what failed); on AWS, the ALB's
 * usual pace.
 */
function controlPlaneHealth(env: EnvironmentConfig): HealthSpec {
  return env.provider === 'local'
    ? { path: '/healthz', intervalMs: 250, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 }
    : { path: '/healthz', intervalMs: 10_000, timeoutMs: 5000, healthyThreshold: 2, unhealthyThreshold: 3 };
}

/** The service spec of berth's own control plane in `env`. */
export function controlPlaneSpec(input: ControlPlaneSpecInput): ServiceSpec {
  const { env } = input;
  const replicas = input.replicas ?? DEFAULT_CONTROL_PLANE_REPLICAS;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 100) {
    throw new UserError(`the control plane needs 1 to 100 replicas, not ${String(replicas)}`, {
      hint: `2 or more keep it serving while one replica is replaced, e.g. --replicas ${DEFAULT_CONTROL_PLANE_REPLICAS}`,
    });
  }
  const allowHosts = [...new Set(input.allowHosts)];
  const base = {
    name: CONTROL_PLANE_SERVICE,
    replicas,
    health: controlPlaneHealth(env),
    domains: input.domains ?? [],
    protection: { deletion: true },
    drift: 'heal' as const,
  };
  if (env.provider === 'local') {
    if (!input.local) throw new Error('a local control plane needs LocalControlPlane settings');
    const { node, entry, dataDir } = input.local;
    return {
      ...base,
      run: {
        // --grace 0: a replica being replaced leaves at once; its operations stay resumable and
        // its leases are released, so a peer carries on without waiting for it to die.
        command: [
          node,
          entry,
          'up',
          '--host',
          '127.0.0.1',
          '--grace',
          '0',
          ...allowHosts.flatMap((h) => ['--allow-host', h]),
        ],
        cwd: dataDir,
      },
      port: CONTROL_PLANE_CONTAINER_PORT,
      env: { BERTH_HOME: dataDir },
    };
  }
  if (!input.aws) throw new Error('an AWS control plane needs AwsControlPlane settings');
  return {
    ...base,
    image: input.aws.image,
    port: CONTROL_PLANE_CONTAINER_PORT,
    env: {
      BERTH_HOME: CONTAINER_DATA_DIR,
      BERTH_CONFIG: input.aws.config,
      BERTH_API_HOST: '0.0.0.0',
      BERTH_API_PORT: String(CONTROL_PLANE_CONTAINER_PORT),
      BERTH_ALLOW_HOSTS: allowHosts.join(','),
    },
  };
}

/** The control plane's URL in `env`: its first hostname, through the proxy or the ALB. */
export async function controlPlaneUrl(provider: Provider, env: EnvironmentConfig, spec: ServiceSpec) {
  const [url] = await provider.urls(spec, env);
  if (!url) throw new Error(`the ${provider.name} provider gives no URL for ${spec.name}`);
  return url.replace(/\/+$/, '');
}

/**
 * The revision to bring the control plane back with: the one it runs (or last ran), from the
 * store. Null when berth was never installed in `env`.
 */
export async function lastControlPlaneRevision(
  store: StateStore,
  env: string,
): Promise<RevisionRecord | null> {
  const record = await store.getService(env, CONTROL_PLANE_SERVICE);
  if (record?.currentRevision) {
    const current = await store.getRevision(env, CONTROL_PLANE_SERVICE, record.currentRevision);
    if (current) return current;
  }
  const [newest] = await store.listRevisions(env, CONTROL_PLANE_SERVICE);
  return newest ?? null;
}

export interface ControlPlaneDiagnosis {
  env: string;
  /** berth has a record of its control plane in this environment. */
  installed: boolean;
  /** Its status, observed directly (no API involved). */
  status: ServiceStatus | null;
  /** True when its compute is missing or not healthy, or its route or DNS name is gone. */
  broken: boolean;
  /** What is wrong, in words. */
  problems: string[];
}

/** Looks at the control plane's own service in `env` directly: is it there, and is it healthy? */
export async function diagnoseControlPlane(
  store: StateStore,
  provider: Provider,
  env: EnvironmentConfig,
): Promise<ControlPlaneDiagnosis> {
  const record = await store.getService(env.name, CONTROL_PLANE_SERVICE);
  if (!record || record.status === 'deleted') {
    const installed = (await lastControlPlaneRevision(store, env.name)) !== null;
    return {
      env: env.name,
      installed,
      status: null,
      broken: installed,
      problems: installed ? [`the service ${CONTROL_PLANE_SERVICE} was deleted from berth's record`] : [],
    };
  }
  const [status] = await environmentStatus(store, provider, env, CONTROL_PLANE_SERVICE);
  const problems: string[] = [];
  if (status) {
    for (const resource of status.resources) {
      if (resource.state === 'missing') problems.push(`its ${resource.kind} is missing`);
    }
    if (status.health !== 'Healthy' && !problems.some((p) => p.includes('compute'))) {
      problems.push(`it is ${status.health}: ${status.healthDetail}`);
    }
  }
  return { env: env.name, installed: true, status: status ?? null, broken: problems.length > 0, problems };
}

/**
 * Records, once per outage, that the control plane was found down by someone who could not reach
 * it (the CLI): the detection line of the incident timeline when no control plane was left to
 * notice its own deletion.
 */
export async function recordControlPlaneDown(
  store: StateStore,
  diagnosis: ControlPlaneDiagnosis,
  observer: string,
): Promise<void> {
  const since = new Date(Date.now() - 24 * 3600_000).toISOString();
  const recent = await store.listEvents({ env: diagnosis.env, service: CONTROL_PLANE_SERVICE, since });
  const last = recent.filter((e) => e.type.startsWith('control-plane.')).at(-1);
  if (last?.type === 'control-plane.down') return;
  await store.appendEvent({
    env: diagnosis.env,
    service: CONTROL_PLANE_SERVICE,
    operationId: null,
    type: 'control-plane.down',
    message: `control plane found down by ${observer}: ${diagnosis.problems.join('; ')}; recovery: berth recover --env ${diagnosis.env}`,
    data: { problems: diagnosis.problems, observer },
  });
}

/** Records that the control plane's API answers again after a recovery (ends the outage). */
export async function recordControlPlaneRecovered(
  store: StateStore,
  env: string,
  detail: { url: string; operationId: string; revision: number },
): Promise<void> {
  await store.appendEvent({
    env,
    service: CONTROL_PLANE_SERVICE,
    operationId: detail.operationId,
    type: 'control-plane.recovered',
    message: `control plane recovered: revision ${detail.revision} answers at ${detail.url}`,
    data: { url: detail.url, revision: detail.revision },
  });
}

/**
 * Redeploys the control plane's last revision from the store, converging over whatever is left of
 * it (an operation a dead process left behind is finished first, as every deploy does).
 */
export async function recoverControlPlane(
  engine: Engine,
  store: StateStore,
  env: EnvironmentConfig,
  request: DeployRequest = {},
): Promise<{ revision: RevisionRecord; outcome: OperationOutcome }> {
  const revision = await lastControlPlaneRevision(store, env.name);
  if (!revision) {
    throw new NotFoundError(`berth's control plane was never installed in ${env.name}`, {
      hint: `install it with: berth install --env ${env.name}`,
    });
  }
  const outcome = await engine.deploy(revision.spec, { noRollback: true, ...request });
  return { revision, outcome };
}
