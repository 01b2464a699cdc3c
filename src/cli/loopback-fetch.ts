/**
 * fetch, plus names under `.localhost`. RFC 6761 reserves them for the loopback interface, and
 * browsers and curl resolve them so, but Node's resolver does not (getaddrinfo answers ENOTFOUND
 * on most systems). A self-hosted control plane on the local runtime is reached by exactly such a
 * name (`berth.production.localhost:<proxy port>`): the proxy routes by that Host header, so the
 * request must go to 127.0.0.1 with the name kept in its Host header.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';

export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name.endsWith('.localhost');
}

const loopback: LookupFunction = (_hostname, options, callback) => {
  if ((options as { all?: boolean }).all) {
    (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
      { address: '127.0.0.1', family: 4 },
    ]);
  } else callback(null, '127.0.0.1', 4);
};

/** `fetch(url, init)`; for `*.localhost` URLs, the same over node:http to 127.0.0.1. */
export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const target = new URL(url);
  if (!isLocalhostName(target.hostname)) return fetch(url, init);
  // node:https (with tls) only for an https URL: most commands never need it.
  const send = target.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const req = send(
      target,
      { method: init.method ?? 'GET', headers, lookup: loopback, signal: init.signal ?? undefined },
      (res: IncomingMessage) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
          else if (value !== undefined) responseHeaders.set(name, value);
        }
        const status = res.statusCode ?? 502;
        const empty = status === 204 || status === 304 || init.method === 'HEAD';
        if (empty) res.resume();
        resolve(
          new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
            status,
            statusText: res.statusMessage,
            headers: responseHeaders,
          }),
        );
      },
    );
    // The same shape fetch rejects with: a TypeError whose cause is the system error.
    req.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
    if (typeof init.body === 'string') req.end(init.body);
    else req.end();
  });
}
