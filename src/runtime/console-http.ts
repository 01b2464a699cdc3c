/**
 * One HTTP exchange with the runtime's console (plain HTTP on the loopback), over node:http.
 * Not fetch: on Node 20 the first fetch of a process loads and compiles undici, about 30 ms of
 * every CLI command that talks to the runtime, which is most of them.
 */
import { request } from 'node:http';

export interface ConsoleResponse {
  status: number;
  text: string;
}

export interface ConsoleRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Give up after this long (the whole exchange); rejects with a ConsoleTimeout. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The runtime did not answer in time. */
export class ConsoleTimeout extends Error {
  override readonly name = 'TimeoutError';
}

export function consoleRequest(url: string, options: ConsoleRequest): Promise<ConsoleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, signal: options.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new ConsoleTimeout(`no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    function fail(error: Error): void {
      clearTimeout(timer);
      reject(error);
    }
    req.on('error', fail);
    req.end(options.body);
  });
}
