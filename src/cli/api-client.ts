/**
 * The CLI's HTTP client of the control plane API (fetch). API errors become the same UserErrors
 * (message, details, hint, exit code) that direct mode raises; an API that cannot be reached is
 * exit 4 with the same command spelled with --direct.
 */
import { UserError, type ExitCode } from '../core/errors.js';
import { apiFetch } from './loopback-fetch.js';

export interface ApiClientOptions {
  url: string;
  token: string | null;
  /** The command to suggest with --direct when the API cannot be reached. */
  directCommand: string;
  /**
   * Called once the API turned out to be unreachable, with the exit-4 error the client would
   * throw: may return a better one (e.g. "the control plane itself is down: run berth recover").
   */
  explainUnreachable?: (error: UserError) => Promise<UserError>;
}

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

interface ApiErrorBody {
  error?: string;
  message?: string;
  details?: string[];
  hint?: string | null;
  exitCode?: number;
}

/** `berth ARGS --direct`, for the message shown when the API is down. */
export function directCommandLine(argv: string[] = process.argv.slice(2)): string {
  const quoted = argv
    .filter((arg) => arg !== '--direct')
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`));
  return ['berth', ...quoted, '--direct'].join(' ');
}

export class ApiClient {
  readonly url: string;

  constructor(private readonly options: ApiClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
  }

  private async unreachable(cause: unknown): Promise<UserError> {
    const reason =
      cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : '';
    const error = new UserError(
      `the berth API at ${this.url} cannot be reached${reason ? ` (${reason})` : ''}`,
      {
        code: 'api_unreachable',
        exitCode: 4,
        cause,
        hint: `start it with \`berth up\`, or run the same without the API: ${this.options.directCommand}`,
      },
    );
    if (!this.options.explainUnreachable) return error;
    try {
      return await this.options.explainUnreachable(error);
    } catch {
      return error; // the explanation is a bonus; never hide the real problem behind its failure
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      ...extra,
    };
  }

  private async fail(response: Response): Promise<never> {
    let body: ApiErrorBody = {};
    try {
      body = (await response.json()) as ApiErrorBody;
    } catch {
      // not JSON: a proxy or another server answered
    }
    // A load balancer or the runtime's proxy in front of the control plane, answering for it
    // because nothing healthy is behind the name: the API is as unreachable as a refused port.
    if (typeof body.error !== 'string' && [404, 502, 503, 504].includes(response.status)) {
      throw await this.unreachable(new Error(`${response.status} ${response.statusText} from ${this.url}`));
    }
    // A 5xx is a bug in the API, except a 502/507 saying that a provider or the disk behind it failed.
    if (
      response.status >= 500 &&
      body.error !== 'provider_unreachable' &&
      body.error !== 'storage_unavailable'
    ) {
      throw new Error(`the berth API answered ${response.status}: ${body.message ?? response.statusText}`);
    }
    const exitCode = ([1, 2, 3, 4].includes(body.exitCode ?? 0) ? body.exitCode : 2) as ExitCode;
    throw new UserError(body.message ?? `the berth API answered ${response.status}`, {
      code: body.error ?? `http_${response.status}`,
      details: body.details ?? [],
      hint: body.hint ?? undefined,
      exitCode,
    });
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await apiFetch(`${this.url}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw await this.unreachable(error);
    }
    if (!response.ok) await this.fail(response);
    return (await response.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /**
   * Reads a server-sent event stream, calling `onMessage` for each message, and reconnecting
   * with Last-Event-ID when the connection drops (a few times, then exit 4). Resolves when
   * `onMessage` returns 'stop' or the signal aborts.
   */
  async stream(
    path: string,
    onMessage: (message: SseMessage) => 'stop' | void,
    options: { lastEventId?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    let lastId = options.lastEventId === undefined ? null : String(options.lastEventId);
    let failures = 0;
    for (;;) {
      let response: Response;
      try {
        response = await apiFetch(`${this.url}${path}`, {
          headers: this.headers({
            accept: 'text/event-stream',
            ...(lastId !== null ? { 'last-event-id': lastId } : {}),
          }),
          signal: options.signal,
        });
      } catch (error) {
        if (options.signal?.aborted) return;
        if (++failures > 5) throw await this.unreachable(error);
        await new Promise((resolve) => setTimeout(resolve, 300 * failures));
        continue;
      }
      if (!response.ok) await this.fail(response);
      failures = 0;
      try {
        for await (const message of parseSse(response.body!)) {
          if (message.id !== null) lastId = message.id;
          if (onMessage(message) === 'stop') return;
        }
      } catch (error) {
        if (options.signal?.aborted) return;
        if (++failures > 5) throw await this.unreachable(error);
      }
      // The server ended the stream without the message we wait for: reconnect where we were.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Splits a text/event-stream body into messages (comments and retry lines skipped). */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  let message: SseMessage = { id: null, event: 'message', data: '' };
  let hasData = false;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (hasData) yield message;
        message = { id: null, event: 'message', data: '' };
        hasData = false;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') message.id = value;
      else if (field === 'event') message.event = value;
      else if (field === 'data') {
        message.data = hasData ? `${message.data}\n${value}` : value;
        hasData = true;
      }
    }
  }
}
