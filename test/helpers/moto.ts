/**
 * A real moto server for AWS tests: started on a free loopback port, waited for, reset between
 * tests when asked, and killed at the end. Tests act as several AWS accounts on one server with
 * the `x-moto-account-id` header (see `accountMiddleware`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

import type { AwsConnection } from '../../src/providers/aws/clients.js';
import type { AwsService } from '../../src/providers/aws/throttle.js';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Wipes every account's state. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export const TEST_REGION = 'eu-west-1';
export const STAGING_ACCOUNT = '111111111111';
export const PRODUCTION_ACCOUNT = '222222222222';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * moto's own `moto_server` command, except that requests are served one at a time. AWS applies
 * each conditional write and transaction atomically; moto's threaded server checks conditions and
 * writes without a lock, so two concurrent requests can both pass a condition that only one may.
 * The app, the routing and the port are moto_server's; only the lock is added.
 */
const MOTO_LAUNCHER = `
import os, sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(host, port, serialized, threaded=True)
`;

/** Starts moto (pip install "moto[server]") on a free loopback port and waits until it answers. */
export async function startMoto(
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const python = process.env.BERTH_TEST_PYTHON ?? 'python3';
  const child: ChildProcess = spawn(python, ['-c', MOTO_LAUNCHER, '127.0.0.1', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  const giveUpAt = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (response.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > giveUpAt) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    port,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: ${response.status}`);
    },
    stop,
  };
}

type Stack = MiddlewareStack<object, MetadataBearer>;

/** Makes every request act in `account` on the moto server. */
export function useAccount(stack: Stack, account: string): void {
  stack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-moto-account-id'] = account;
      return next(args);
    },
    { step: 'build', name: 'motoAccount' },
  );
}

/** Counts every attempt of every call, by "service:Command". */
export class CallCounter {
  readonly counts = new Map<string, number>();
  install(stack: Stack, service: AwsService): void {
    stack.add(
      (next, context) => async (args) => {
        const key = `${service}:${(context.commandName ?? '?').replace(/Command$/, '')}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        return next(args);
      },
      { step: 'build', name: 'callCounter' },
    );
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  reset(): void {
    this.counts.clear();
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort());
  }
}

/** A connection to moto acting as `account`, with optional extra middleware. */
export function motoConnection(
  moto: MotoServer,
  account: string,
  extra?: (stack: Stack, service: AwsService) => void,
): AwsConnection {
  return {
    region: TEST_REGION,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    customize: (stack, service) => {
      useAccount(stack, account);
      extra?.(stack, service);
    },
  };
}
