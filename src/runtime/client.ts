import { TransientError, UserError } from '../core/errors.js';
import type { Tags } from '../core/tags.js';
import { consoleRequest, type ConsoleResponse } from './console-http.js';
import type { InputOf, ResourceOf, RuntimeActivity, RuntimeInfo, RuntimeKind, RuntimeLogs } from './types.js';

export interface RuntimeClientOptions {
  url: string;
  token: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /**
   * Who acts, recorded in the runtime's activity log (its CloudTrail). Default "console": a person
   * or script acting directly on the runtime, behind berth's back.
   */
  actor?: string;
}

interface ErrorBody {
  error?: string;
  message?: string;
  details?: string[];
}

/** A typed client of the local runtime's console API. */
export class RuntimeClient {
  readonly url: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly actor: string;
  /**
   * What the runtime said about itself when this client was made to connect to it (see
   * connectRuntime), so that the command that connected need not ask again at once.
   */
  readonly connectedInfo: RuntimeInfo | null;

  constructor(options: RuntimeClientOptions, connectedInfo: RuntimeInfo | null = null) {
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.actor = options.actor ?? 'console';
    this.connectedInfo = connectedInfo;
  }

  /** The same runtime, with another actor named in its activity log. */
  as(actor: string): RuntimeClient {
    return new RuntimeClient(
      { url: this.url, token: this.token, timeoutMs: this.timeoutMs, actor },
      this.connectedInfo,
    );
  }

  /** What was changed in the runtime, by whom, in a window (ISO times), optionally for tagged resources. */
  async activity(window: { since: string; until: string }, tags?: Tags): Promise<RuntimeActivity[]> {
    const query = new URLSearchParams({ since: window.since, until: window.until });
    for (const [key, value] of Object.entries(tags ?? {})) query.append('tag', `${key}=${value}`);
    const res = await this.call<{ items: RuntimeActivity[] }>('GET', `/v1/activity?${query.toString()}`);
    return res.body!.items;
  }

  info(): Promise<RuntimeInfo> {
    return this.call<RuntimeInfo>('GET', '/v1/info').then((r) => r.body!);
  }

  async list<K extends RuntimeKind>(kind: K, tags?: Tags): Promise<ResourceOf<K>[]> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(tags ?? {})) query.append('tag', `${key}=${value}`);
    const qs = query.size ? `?${query.toString()}` : '';
    const res = await this.call<{ items: ResourceOf<K>[] }>('GET', `/v1/${kind}${qs}`);
    return res.body!.items;
  }

  async get<K extends RuntimeKind>(kind: K, id: string): Promise<ResourceOf<K> | null> {
    const res = await this.call<ResourceOf<K>>(
      'GET',
      `/v1/${kind}/${encodeURIComponent(id)}`,
      undefined,
      true,
    );
    return res.status === 404 ? null : res.body!;
  }

  async create<K extends RuntimeKind>(kind: K, input: InputOf<K>): Promise<ResourceOf<K>> {
    const res = await this.call<ResourceOf<K>>('POST', `/v1/${kind}`, input);
    return res.body!;
  }

  async update<K extends RuntimeKind>(
    kind: K,
    id: string,
    patch: Partial<InputOf<K>>,
  ): Promise<ResourceOf<K> | null> {
    const res = await this.call<ResourceOf<K>>('PATCH', `/v1/${kind}/${encodeURIComponent(id)}`, patch, true);
    return res.status === 404 ? null : res.body!;
  }

  /** Delete; false when it was already gone. */
  async remove(kind: RuntimeKind, id: string): Promise<boolean> {
    const res = await this.call('DELETE', `/v1/${kind}/${encodeURIComponent(id)}`, undefined, true);
    return res.status !== 404;
  }

  async killReplica(
    serviceId: string,
    index: number,
    signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL',
  ): Promise<void> {
    await this.call('POST', `/v1/services/${encodeURIComponent(serviceId)}/replicas/${index}/kill`, {
      signal,
    });
  }

  /** The last `lines` lines (default 100) of each replica's log. */
  async logs(serviceId: string, lines?: number): Promise<RuntimeLogs['replicas']> {
    const qs = lines === undefined ? '' : `?lines=${lines}`;
    const res = await this.call<RuntimeLogs>(
      'GET',
      `/v1/services/${encodeURIComponent(serviceId)}/logs${qs}`,
    );
    return res.body!.replicas;
  }

  /**
   * Long-polls the change feed: resolves with the runtime's change counter once it differs from
   * `after`, or after about `waitMs`. A runtime without the feed answers 404 (UserError not_found).
   */
  async changes(after: number, waitMs: number, signal?: AbortSignal): Promise<number> {
    let res: ConsoleResponse;
    try {
      res = await consoleRequest(`${this.url}/v1/changes?after=${after}&waitMs=${waitMs}`, {
        headers: { authorization: `Bearer ${this.token}` },
        timeoutMs: waitMs + this.timeoutMs,
        signal,
      });
    } catch (error) {
      throw new TransientError(`local runtime not reachable at ${this.url}`, { cause: error });
    }
    if (res.status === 404)
      throw new UserError('this local runtime has no change feed', { code: 'not_found' });
    if (res.status < 200 || res.status > 299)
      throw new TransientError(`local runtime answered HTTP ${res.status} to its change feed`);
    return (JSON.parse(res.text) as { version: number }).version;
  }

  private async call<T>(
    method: string,
    path: string,
    body?: unknown,
    allow404 = false,
  ): Promise<{ status: number; body: T | null }> {
    let res: ConsoleResponse;
    try {
      res = await consoleRequest(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          'x-berth-actor': this.actor,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new TransientError(
        timedOut
          ? `local runtime at ${this.url} did not answer within ${this.timeoutMs} ms`
          : `local runtime not reachable at ${this.url}`,
        { cause: error },
      );
    }
    const text = res.text;
    const ok = res.status >= 200 && res.status <= 299;
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (ok) return { status: res.status, body: parsed as T };
    const err = (parsed ?? {}) as ErrorBody;
    const message = err.message ?? (text || `HTTP ${res.status}`);
    if (res.status === 404 && allow404) return { status: 404, body: null };
    if (res.status === 401) {
      throw new UserError(`the local runtime refused the console token (${this.url})`, {
        hint: 'the token is read from <data dir>/runtime/console.token; check --data-dir (or $BERTH_HOME) names the data dir of the running runtime',
        code: 'runtime_unauthorized',
      });
    }
    if (res.status === 400 || res.status === 409 || res.status === 404) {
      throw new UserError(message, {
        details: err.details ?? [],
        code: res.status === 409 ? 'conflict' : res.status === 404 ? 'not_found' : 'invalid_input',
      });
    }
    if (res.status >= 500) throw new TransientError(`local runtime error (HTTP ${res.status}): ${message}`);
    throw new Error(`local runtime answered HTTP ${res.status} to ${method} ${path}: ${message}`);
  }
}
