/**
 * The local runtime's resource model and console API: the embedded stand-in for ECS (services),
 * the ALB (routes), Route 53 records (dns) and Route 53 health checks (healthchecks).
 *
 * The runtime knows nothing of berth: it keeps its own state, and anyone holding the console
 * token can create, change or delete any resource, exactly as an engineer could in an AWS
 * console. berth's local provider is just one client of this API.
 *
 * Console HTTP API (JSON, loopback only, `Authorization: Bearer <console token>` on every route
 * except GET /v1/ping):
 *   GET    /v1/ping                           -> { ok: true }                (no auth)
 *   GET    /v1/info                           -> RuntimeInfo
 *   GET    /v1/{kind}?tag=k=v&tag=k2=v2        -> { items: Resource[] }       (tags ANDed)
 *   GET    /v1/{kind}/{id}                    -> Resource | 404
 *   POST   /v1/{kind}                         -> 201 Resource               (body: Create input)
 *   PATCH  /v1/{kind}/{id}                    -> Resource | 404            (body: partial input)
 *   DELETE /v1/{kind}/{id}                    -> 204 | 404
 *   POST   /v1/services/{id}/replicas/{index}/kill   body { signal?: 'SIGKILL'|'SIGTERM' } -> 204
 *   GET    /v1/services/{id}/logs?lines=N     -> { replicas: [{ index, lines: string[] }] }
 *   GET    /v1/activity?since=ISO&until=ISO&tag=k=v -> { items: RuntimeActivity[] }  (who changed what)
 *   GET    /v1/changes?after=V&waitMs=T       -> { version }  (long poll: answers once the change
 *                                                counter differs from V, or after T ms)
 * where {kind} is one of: services, routes, dns, healthchecks.
 * Errors: { error: string, message: string } with status 400 (bad input), 401, 404, 409.
 */
import type { Tags } from '../core/tags.js';
import type { SecretRef } from './secret-store.js';

export type RuntimeKind = 'services' | 'routes' | 'dns' | 'healthchecks';

export interface ReplicaHealthConfig {
  /** Path requested on each replica, e.g. "/healthz". */
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes before a replica receives traffic. */
  healthyThreshold: number;
  /** Consecutive failures before a healthy replica stops receiving traffic. */
  unhealthyThreshold: number;
}

export type ReplicaState = 'starting' | 'healthy' | 'unhealthy' | 'crashed' | 'stopped' | 'draining';

export interface ReplicaStatus {
  index: number;
  pid: number | null;
  port: number;
  state: ReplicaState;
  restarts: number;
  /** Last exit code or signal, e.g. "code 1" or "signal SIGKILL". */
  lastExit: string | null;
  startedAt: string | null;
  /** The last health check's result while it runs ("GET /ready → 404", "connection refused"). */
  lastCheck?: string | null;
}

export interface RuntimeServiceInput {
  /** Unique among the runtime's services (409 on a duplicate). */
  name: string;
  /** argv; spawned without a shell. */
  command: string[];
  /** Absolute working directory. */
  cwd: string;
  env: Record<string, string>;
  /**
   * Variables read from the runtime's secret store when each replica starts (variable -> where).
   * Only the references are kept and shown; a reference to a secret that is not set is a 400.
   */
  secrets?: Record<string, SecretRef>;
  replicas: number;
  health: ReplicaHealthConfig;
  tags: Tags;
}

export interface RuntimeService extends RuntimeServiceInput {
  id: string;
  createdAt: string;
  updatedAt: string;
  replicaStatus: ReplicaStatus[];
}

export interface RuntimeRouteInput {
  /** The Host this route answers for, without port, lower case. Several routes may share a host: the newest wins. */
  host: string;
  /** Id of the runtime service that receives the traffic. */
  serviceId: string;
  tags: Tags;
}
export interface RuntimeRoute extends RuntimeRouteInput {
  id: string;
  createdAt: string;
  updatedAt: string;
}

export interface RuntimeDnsInput {
  /** The name, e.g. "hello.local.localhost" or "www.example.test". */
  name: string;
  type: 'CNAME';
  /** What it points at; the proxy answers only for names whose record targets the proxy's host name. */
  target: string;
  tags: Tags;
}
export interface RuntimeDns extends RuntimeDnsInput {
  id: string;
  createdAt: string;
  updatedAt: string;
}

export interface RuntimeHealthCheckInput {
  /** Host checked through the proxy (like Route 53 checking a DNS name). */
  host: string;
  path: string;
  intervalMs: number;
  failureThreshold: number;
  tags: Tags;
}
export interface RuntimeHealthCheck extends RuntimeHealthCheckInput {
  id: string;
  createdAt: string;
  updatedAt: string;
  status: 'healthy' | 'unhealthy' | 'unknown';
  lastCheckedAt: string | null;
  lastError: string | null;
}

export interface RuntimeInfo {
  /** Stable across restarts of the same runtime data dir: the runtime's verified identity. */
  instanceId: string;
  hostname: string;
  pid: number;
  startedAt: string;
  consoleUrl: string;
  proxy: { port: number; url: string };
  /** The target every DNS record served by this proxy points at. */
  proxyHost: string;
  /**
   * The unprivileged user replicas run as; null when they run as the runtime's own user (and can
   * then read whatever it can, berth's data dir included). Absent from older runtimes: null.
   */
  replicaUser?: string | null;
}

export type RuntimeResource = RuntimeService | RuntimeRoute | RuntimeDns | RuntimeHealthCheck;

/** The resource type of each console kind. */
export interface RuntimeResourceMap {
  services: RuntimeService;
  routes: RuntimeRoute;
  dns: RuntimeDns;
  healthchecks: RuntimeHealthCheck;
}
/** The create input of each console kind. */
export interface RuntimeInputMap {
  services: RuntimeServiceInput;
  routes: RuntimeRouteInput;
  dns: RuntimeDnsInput;
  healthchecks: RuntimeHealthCheckInput;
}
export type ResourceOf<K extends RuntimeKind> = RuntimeResourceMap[K];
export type InputOf<K extends RuntimeKind> = RuntimeInputMap[K];

export const RUNTIME_KINDS: readonly RuntimeKind[] = ['services', 'routes', 'dns', 'healthchecks'];
/** Id prefix of each kind: svc-, rt-, dns-, hc-. */
export const RUNTIME_ID_PREFIX: Record<RuntimeKind, string> = {
  services: 'svc',
  routes: 'rt',
  dns: 'dns',
  healthchecks: 'hc',
};
/** The host name every DNS record served by the local proxy points at. */
export const RUNTIME_PROXY_HOST = 'proxy.berth.localhost';

/** GET /v1/services/{id}/logs */
export interface RuntimeLogs {
  replicas: { index: number; lines: string[] }[];
}

/** `<runtime dir>/runtime.json`: how clients discover a running runtime. */
export interface RuntimeDiscovery {
  pid: number;
  consoleUrl: string;
  proxyPort: number;
  instanceId: string;
  startedAt: string;
}

/**
 * One change made through the console, like a CloudTrail record: berth's own calls carry the
 * actor "berth"; anything else was done behind berth's back.
 */
export interface RuntimeActivity {
  time: string;
  actor: string;
  action: 'create' | 'update' | 'delete' | 'kill';
  kind: RuntimeKind;
  id: string;
  /** The resource's name or host, when it had one. */
  name: string | null;
  tags: Tags;
  /** For update: the fields given; for kill: the replica and signal. */
  detail: string | null;
}
