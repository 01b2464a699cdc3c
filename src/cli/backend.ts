/**
 * Where a command's work happens: in this process (direct mode: the engine against the state
 * store and provider) or in the control plane (the API). Commands call a Backend and print the
 * same output either way; exit codes are the same too.
 *
 * Which one (the first that applies):
 * 1. `--direct` → direct.
 * 2. `--api URL`, then $BERTH_API → that API.
 * 3. The current context (`berth login`, `berth context use`, `berth install`) → its URL: the
 *    control plane service's stable name, never one replica's port.
 * 4. `<data dir>/api.json`, written by a plain `berth up` → that API; but once it was stopped
 *    cleanly (Ctrl-C), direct, saying so once: a stopped control plane is not an outage.
 * 5. Otherwise direct (a data dir where no control plane was ever set up, e.g. `npm run demo`).
 *
 * An API that should answer and does not is exit 4; before saying so, the CLI looks directly at
 * the control plane's own service (`berth`) and, when that is what broke, names the one command
 * that brings it back (`berth recover --env E`).
 */
import { sleep } from '../core/clock.js';
import { UserError } from '../core/errors.js';
import { userInfo } from 'node:os';
import type { OperationOutcome, DeployRequest } from '../engine/engine.js';
import type { PlannedRemoval } from '../engine/delete-steps.js';
import { planDeploy, type PlanChange } from '../engine/plan.js';
import type { ServiceStatus } from '../engine/status.js';
import type { VerifiedIdentity } from '../providers/provider.js';
import type { BerthConfig, EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import type { EventRecord, OperationRecord } from '../state/store.js';
import { apiPaths, readApiDiscovery, type ApiDiscovery } from '../api/paths.js';
import { readFileOrNull, writeFileAtomic } from '../runtime/files.js';
import { serviceEvents, serviceHistory, type ServiceHistory } from '../api/queries.js';
import { serviceLogs, type ServiceLogs } from '../engine/logs.js';
import type { SecretActions, SecretListing } from '../engine/secrets.js';
import { readLocalToken } from '../api/tokens.js';
import { ApiClient, directCommandLine } from './api-client.js';
import { currentContext, type Context } from './contexts.js';
import { explainUnreachable } from './control-plane-down.js';
import { chooseEnvironment, loadConfig, openEnvironment } from './environment.js';
import type { GlobalOptions } from './globals.js';
import type { Io } from './io.js';
import { renderBanner } from './render/banner.js';

export type OnEvent = (event: EventRecord) => void;

export interface WhoAmI {
  env: string;
  provider: string;
  protected: boolean;
  identity: string;
  description: string;
  declaredIdentity: string | null;
  actor: string;
  mode: 'direct' | 'api';
  /** The token's role in the environment (API mode). */
  role?: string | null;
}

/** One environment, opened through a backend. Every method acts on `env`. */
export interface EnvSession {
  readonly env: EnvironmentConfig;
  readonly identity: VerifiedIdentity;
  /** Applies a spec; `onEvent` sees each event of the operations it runs, as it happens. */
  deploy(spec: ServiceSpec, request: DeployRequest, onEvent: OnEvent): Promise<OperationOutcome>;
  plan(spec: ServiceSpec): Promise<PlanChange[]>;
  /** Every service (or one: NotFound when unknown), with resources. */
  status(service?: string): Promise<ServiceStatus[]>;
  /** The last `limit` events of a service, oldest first; NotFound when berth never knew it. */
  events(service: string, limit: number): Promise<EventRecord[]>;
  /** Calls `onEvent` for each event of the service after `afterSeq`, until the process is stopped. */
  followEvents(service: string, afterSeq: number, onEvent: OnEvent): Promise<never>;
  history(service: string): Promise<ServiceHistory>;
  /** What the service's replicas printed since `since` (ISO), at most `limit` lines, oldest first. */
  logs(service: string, request: { since: string; limit: number }): Promise<ServiceLogs>;
  rollback(
    service: string,
    to: number | undefined,
    request: DeployRequest,
    onEvent: OnEvent,
  ): Promise<OperationOutcome>;
  cancel(service: string): Promise<OperationRecord>;
  previewDelete(service: string): Promise<PlannedRemoval[]>;
  delete(service: string, request: { confirm?: string }, onEvent: OnEvent): Promise<OperationOutcome>;
  whoami(): Promise<WhoAmI>;
  /** The environment's secret values (`berth secret`); values go in, never come out. */
  secrets(): Promise<SecretActions>;
  close(): Promise<void>;
}

export interface OpenOptions {
  mutating: boolean;
  /** Print the environment banner on stderr (default true). */
  banner?: boolean;
  /** The config the command already loaded (from `backend.envs()`). */
  config?: BerthConfig;
}

export interface Backend {
  readonly mode: 'direct' | 'api';
  /** The environments: the local berth.config.yaml (direct) or the API's (those the token may see). */
  envs(): Promise<BerthConfig>;
  /** Chooses the environment (--env, $BERTH_ENV, local), checks its identity, prints the banner. */
  open(io: Io, options: OpenOptions): Promise<EnvSession>;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export class DirectBackend implements Backend {
  readonly mode = 'direct';

  constructor(private readonly globals: GlobalOptions) {}

  envs(): Promise<BerthConfig> {
    return loadConfig(this.globals);
  }

  async open(io: Io, options: OpenOptions): Promise<EnvSession> {
    const open = await openEnvironment(this.globals, io, options);
    const { env, store, provider, identity } = open;
    return {
      env,
      identity,
      deploy: (spec, request, onEvent) => open.engine(onEvent).deploy(spec, request),
      plan: (spec) => planDeploy(store, provider, env, spec),
      status: (service) => open.engine().status(service),
      events: (service, limit) => serviceEvents(store, env.name, service, limit),
      async followEvents(service, afterSeq, onEvent) {
        let after = afterSeq;
        for (;;) {
          for (const event of await store.listEvents({ env: env.name, service, afterSeq: after })) {
            onEvent(event);
            after = event.seq;
          }
          await sleep(200);
        }
      },
      history: (service) => serviceHistory(store, env.name, service),
      logs: (service, request) =>
        serviceLogs(store, provider, env.name, service, {
          startTime: Date.parse(request.since),
          limit: request.limit,
        }),
      rollback: (service, to, request, onEvent) => open.engine(onEvent).rollback(service, to, request),
      cancel: (service) => open.engine().cancel(service),
      previewDelete: (service) => open.engine().previewDelete(service),
      delete: (service, request, onEvent) => open.engine(onEvent).delete(service, request),
      whoami: async () => ({
        env: env.name,
        provider: env.provider,
        protected: env.protected,
        identity: identity.id,
        description: identity.description,
        declaredIdentity: env.identity ?? null,
        actor: osUser(),
        mode: 'direct',
      }),
      secrets: async () => {
        const [{ secretActions, secretStoreFor }, { directActor }] = await Promise.all([
          import('../engine/secrets.js'),
          import('../engine/guard.js'),
        ]);
        const values = await secretStoreFor(env, this.globals.dataDir);
        return secretActions(store, env, values, directActor(), identity.id);
      },
      close: () => open.close(),
    };
  }
}

interface Accepted {
  operation: OperationRecord;
  afterSeq: number;
  watch: string;
}

const enc = encodeURIComponent;

export class ApiBackend implements Backend {
  readonly mode = 'api';

  constructor(
    private readonly globals: GlobalOptions,
    readonly client: ApiClient,
  ) {}

  async envs(): Promise<BerthConfig> {
    const list = await this.client.get<(EnvironmentConfig & { role?: string })[]>('/v1/envs');
    const environments: Record<string, EnvironmentConfig> = {};
    for (const { role: _role, ...env } of list) environments[env.name] = env;
    return { environments };
  }

  async open(io: Io, options: OpenOptions): Promise<EnvSession> {
    const config = options.config ?? (await this.envs());
    let name: string;
    try {
      name = chooseEnvironment(config, this.globals, options.mutating).name;
    } catch (error) {
      // An environment the token has no role in is not listed: let the API say why (403 or 404).
      if (!(error instanceof UserError && error.code === 'unknown_environment' && this.globals.env))
        throw error;
      name = this.globals.env;
    }
    const { env, identity } = await this.client.get<{ env: EnvironmentConfig; identity: VerifiedIdentity }>(
      `/v1/envs/${enc(name)}`,
    );
    if (options.banner !== false) io.err(renderBanner(io, env, identity));
    const client = this.client;
    const base = `/v1/envs/${enc(env.name)}`;
    const watch = async (accepted: Accepted, onEvent: OnEvent): Promise<OperationOutcome> => {
      let outcome: OperationOutcome | null = null;
      let failure: unknown = null;
      await client.stream(
        accepted.watch,
        (message) => {
          if (message.event === 'outcome') {
            outcome = JSON.parse(message.data) as OperationOutcome;
            return 'stop';
          }
          if (message.event === 'error') {
            failure = JSON.parse(message.data);
            return 'stop';
          }
          onEvent(JSON.parse(message.data) as EventRecord);
        },
        { lastEventId: accepted.afterSeq },
      );
      if (failure) {
        const body = failure as { message?: string };
        throw new Error(`the operation ${accepted.operation.id} ended with an error: ${body.message ?? ''}`);
      }
      return outcome!;
    };
    return {
      env,
      identity,
      async deploy(spec, request, onEvent) {
        const accepted = await client.request<Accepted>('PUT', `${base}/services/${enc(spec.name)}`, {
          spec,
          ...request,
        });
        return watch(accepted, onEvent);
      },
      plan: (spec) => client.request<PlanChange[]>('POST', `${base}/plan`, { spec }),
      async status(service) {
        if (service) return [await client.get<ServiceStatus>(`${base}/services/${enc(service)}`)];
        return client.get<ServiceStatus[]>(`${base}/services`);
      },
      events: (service, limit) =>
        client.get<EventRecord[]>(`${base}/services/${enc(service)}/events?limit=${limit}`),
      async followEvents(service, afterSeq, onEvent) {
        await client.stream(
          `${base}/services/${enc(service)}/events?follow=true&after=${afterSeq}`,
          (message) => onEvent(JSON.parse(message.data) as EventRecord),
          { lastEventId: afterSeq },
        );
        // The stream only ends when the API went away for good (stream() throws exit 4 then).
        return new Promise<never>(() => undefined);
      },
      history: (service) => client.get<ServiceHistory>(`${base}/services/${enc(service)}/history`),
      logs: (service, request) =>
        client.get<ServiceLogs>(
          `${base}/services/${enc(service)}/logs?since=${enc(request.since)}&limit=${request.limit}`,
        ),
      async rollback(service, to, request, onEvent) {
        const accepted = await client.request<Accepted>('POST', `${base}/services/${enc(service)}/rollback`, {
          to,
          healthDeadlineMs: request.healthDeadlineMs,
          confirm: request.confirm,
        });
        return watch(accepted, onEvent);
      },
      cancel: (service) => client.request<OperationRecord>('POST', `${base}/services/${enc(service)}/cancel`),
      previewDelete: (service) =>
        client.get<PlannedRemoval[]>(`${base}/services/${enc(service)}/delete-preview`),
      async delete(service, request, onEvent) {
        const query = request.confirm === undefined ? '' : `?confirm=${enc(request.confirm)}`;
        const accepted = await client.request<Accepted>('DELETE', `${base}/services/${enc(service)}${query}`);
        return watch(accepted, onEvent);
      },
      whoami: () => client.get<WhoAmI>(`${base}/whoami`),
      secrets: async () => ({
        list: () => client.get<SecretListing[]>(`${base}/secrets`),
        set: async (name, value) =>
          (await client.request<{ store: string }>('PUT', `${base}/secrets/${enc(name)}`, { value })).store,
        remove: async (name) =>
          (await client.request<{ store: string }>('DELETE', `${base}/secrets/${enc(name)}`)).store,
      }),
      close: async () => undefined,
    };
  }
}

/** Which API the CLI talks to, and why (see the module comment). */
export interface ApiTarget {
  url: string;
  token: string | null;
  source: 'flag' | 'env' | 'context' | 'discovery';
  context?: Context;
}

/**
 * The API the CLI should use (see the module comment), or null for direct mode. A plain `berth up`
 * that was stopped cleanly is direct: `onStopped` hears about it (to say so once).
 */
export function apiTarget(
  globals: GlobalOptions,
  onStopped: (discovery: ApiDiscovery) => void = () => undefined,
): ApiTarget | null {
  if (globals.direct) return null;
  const explicitToken = globals.token ?? process.env.BERTH_TOKEN ?? null;
  if (globals.api)
    return { url: globals.api, token: explicitToken ?? readLocalToken(globals.dataDir), source: 'flag' };
  if (process.env.BERTH_API) {
    return {
      url: process.env.BERTH_API,
      token: explicitToken ?? readLocalToken(globals.dataDir),
      source: 'env',
    };
  }
  const context = currentContext(globals.dataDir);
  if (context) return { url: context.url, token: explicitToken ?? context.token, source: 'context', context };
  const discovery = readApiDiscovery(globals.dataDir);
  if (!discovery) return null;
  if (discovery.stoppedAt) {
    onStopped(discovery);
    return null;
  }
  return { url: discovery.url, token: explicitToken ?? readLocalToken(globals.dataDir), source: 'discovery' };
}

/** The API's URL when the CLI should use it (see the module comment), else null. */
export function apiUrl(globals: GlobalOptions): string | null {
  return apiTarget(globals)?.url ?? null;
}

/**
 * Says once per clean stop (on stderr) that commands now run directly: the next stop, or a
 * `berth up` in between, says it again. The mark is a file beside api.json naming the stop.
 */
function noticeStoppedOnce(globals: GlobalOptions, discovery: ApiDiscovery): void {
  const mark = `${apiPaths(globals.dataDir).discovery}.direct-notice`;
  const stop = `${discovery.startedAt} ${discovery.stoppedAt}`;
  try {
    if (readFileOrNull(mark)?.trim() === stop) return;
    writeFileAtomic(mark, `${stop}\n`);
  } catch {
    // a read-only data dir: say it every time rather than never
  }
  process.stderr.write(
    `note: the control plane of this data dir was stopped at ${discovery.stoppedAt}; commands run directly (engine in the CLI) until \`berth up\` starts it again\n`,
  );
}

export function selectBackend(globals: GlobalOptions): Backend {
  const target = apiTarget(globals, (discovery) => noticeStoppedOnce(globals, discovery));
  if (!target) return new DirectBackend(globals);
  return new ApiBackend(
    globals,
    new ApiClient({
      url: target.url,
      token: target.token,
      directCommand: directCommandLine(),
      explainUnreachable: (error) => explainUnreachable(globals, target, error),
    }),
  );
}

/** Runs `work` with an environment opened through the chosen backend, and always closes it. */
export async function withBackend<T>(
  globals: GlobalOptions,
  io: Io,
  options: OpenOptions & { backend?: Backend },
  work: (session: EnvSession) => Promise<T>,
): Promise<T> {
  const backend = options.backend ?? selectBackend(globals);
  const session = await backend.open(io, options);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}
