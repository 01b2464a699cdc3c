/** The shapes the dashboard reads from the public API (see /openapi.json). */

export type Role = 'viewer' | 'deployer' | 'admin';

export interface Session {
  actor: string;
  roles: Record<string, Role>;
  via: 'session' | 'token';
  expiresAt: string | null;
}

export interface Environment {
  name: string;
  provider: 'local' | 'aws';
  protected: boolean;
  color: string;
  drift: 'heal' | 'report';
  role: Role;
}

export interface WhoAmI {
  env: string;
  provider: string;
  protected: boolean;
  identity: string;
  description: string;
  declaredIdentity: string | null;
  actor: string;
  role: Role | null;
}

export interface DriftField {
  field: string;
  desired: unknown;
  observed: unknown;
}

export interface ResourceView {
  kind: 'compute' | 'route' | 'dns' | 'healthcheck';
  key: string;
  providerId: string | null;
  name: string;
  state: 'ok' | 'missing' | 'modified' | 'unhealthy' | 'orphaned';
  drift: DriftField[];
  health: { state: string; detail?: string } | null;
}

export type Health = 'Healthy' | 'Progressing' | 'Degraded' | 'Failed' | 'Missing' | 'Unknown';
export type Sync = 'InSync' | 'Drifted' | 'Repairing' | 'Unknown';

export interface ServiceStatus {
  env: string;
  name: string;
  revision: number | null;
  generation: number;
  replicas: number | null;
  health: Health;
  healthDetail: string;
  sync: Sync;
  resources: ResourceView[];
  activeOperation: { id: string; kind: string; status: string; step: string | null } | null;
  urls: string[];
  observedAt: string;
  observedAgeMs: number;
  repairFailing: { attempts: number; since: string; lastError: string | null } | null;
  /** The latest operation, when it failed or was cancelled (absent from an older control plane). */
  lastFailure?: LastFailure | null;
}

export interface LastFailure {
  operationId: string;
  kind: string;
  revision: number | null;
  status: 'failed' | 'cancelled';
  step: string | null;
  /** The reason on the first line; log lines may follow. */
  error: string;
  finishedAt: string | null;
}

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface Step {
  name: string;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  message: string | null;
  attempts: number;
}

export interface Operation {
  id: string;
  env: string;
  service: string;
  kind: 'deploy' | 'delete' | 'rollback' | 'repair';
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  revision: number | null;
  steps: Step[];
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Revision {
  number: number;
  specHash: string;
  origin: { kind: 'deploy' } | { kind: 'rollback'; from: number };
  createdAt: string;
  spec: { replicas: number; image?: string; run?: { command: string[] } };
}

export interface History {
  service: { currentRevision: number | null; lastHealthyRevision: number | null; status: string } | null;
  revisions: Revision[];
  operations: Operation[];
}

export interface BerthEvent {
  seq: number;
  time: string;
  env: string;
  service: string | null;
  operationId: string | null;
  type: string;
  message: string;
  data: Record<string, unknown> | null;
}

export interface TimelineEntry {
  time: string;
  service: string | null;
  /** berth's events, its audit trail, or the provider's record of changes behind berth's back. */
  source: 'event' | 'audit' | 'provider';
  description: string;
  marker: 'outage-began' | 'outage-ended' | null;
}

export interface Timeline {
  env: string;
  since: string;
  until: string;
  entries: TimelineEntry[];
  markdown: string;
}

/** An API error body: { error, message, details[], hint, exitCode }. */
export interface ApiErrorBody {
  error: string;
  message: string;
  details: string[];
  hint: string | null;
}
