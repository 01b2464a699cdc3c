/**
 * The page's only way to the control plane: its public API, same origin, with the session
 * cookie (sent by the browser; the page never sees it). Every request carries the CSRF header
 * the API requires of cookie-authenticated changes.
 */
import type { ApiErrorBody, BerthEvent } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
    this.name = 'ApiError';
  }
}

/** Called when the API says the session is gone (401): the page shows the sign-in form. */
let onSignedOut: () => void = () => undefined;
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

const HEADERS = { 'x-berth-csrf': '1', accept: 'application/json' };

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? HEADERS : { ...HEADERS, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, {
      error: 'unreachable',
      message: `the control plane cannot be reached (${(error as Error).message})`,
      details: [],
      hint: 'is `berth up` still running?',
    });
  }
  const text = await response.text();
  if (!response.ok) {
    let parsed: ApiErrorBody;
    try {
      parsed = JSON.parse(text) as ApiErrorBody;
    } catch {
      parsed = {
        error: `http_${response.status}`,
        message: text || response.statusText,
        details: [],
        hint: null,
      };
    }
    if (response.status === 401 && !path.startsWith('/v1/session/exchange')) onSignedOut();
    throw new ApiError(response.status, parsed);
  }
  const type = response.headers.get('content-type') ?? '';
  if (!text) return null as T;
  return (type.includes('json') ? JSON.parse(text) : text) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** /v1/envs/{env}... with each segment encoded. */
export function envPath(env: string, ...rest: string[]): string {
  return ['/v1/envs', env, ...rest]
    .map((part, index) => (index === 0 ? part : encodeURIComponent(part)))
    .join('/');
}

export type Connection = 'connecting' | 'live' | 'reconnecting';

/**
 * Follows an SSE endpoint (text/event-stream), from `afterSeq`, reconnecting with Last-Event-ID
 * where it stopped when the connection drops. Read with fetch rather than EventSource: the API
 * names each message by its event type, which EventSource only hands to per-name listeners.
 */
export function follow(
  path: string,
  afterSeq: number,
  onEvent: (event: BerthEvent) => void,
  onConnection: (state: Connection) => void,
): () => void {
  const abort = new AbortController();
  let lastId = afterSeq;
  void (async () => {
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        const response = await fetch(`${path}${path.includes('?') ? '&' : '?'}follow=1`, {
          credentials: 'same-origin',
          headers: { accept: 'text/event-stream', 'last-event-id': String(lastId) },
          signal: abort.signal,
        });
        if (response.status === 401) {
          onSignedOut();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        failures = 0;
        onConnection('live');
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let id: string | null = null;
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trimStart();
            }
            if (!data) continue;
            if (id !== null && /^\d+$/.test(id)) lastId = Number(id);
            onEvent(JSON.parse(data) as BerthEvent);
          }
        }
      } catch {
        if (abort.signal.aborted) return;
        failures += 1;
      }
      if (abort.signal.aborted) return;
      onConnection('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 300 * 2 ** Math.min(failures, 4))));
    }
  })();
  return () => abort.abort();
}
