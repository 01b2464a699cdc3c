/**
 * A real moto server for AWS tests: started on a free loopback port, waited for, reset between
 * tests when asked, and killed at the end. Tests act as several AWS accounts on one server with
 * the `x-moto-account-id` header (see `accountMiddleware`).
 */
import type { MetadataBearer, MiddlewareStack } from '@smithy/types';

import type { AwsConnection } from '../../src/providers/aws/clients.js';
import type { AwsService } from '../../src/providers/aws/throttle.js';
import { startMotoServer, type MotoServer } from './moto-server.mjs';

export type { MotoServer };

export const TEST_REGION = 'eu-west-1';
export const STAGING_ACCOUNT = '111111111111';
export const PRODUCTION_ACCOUNT = '222222222222';

/**
 * Starts moto (pip install "moto[server]") on a free loopback port and waits until it answers.
 * The launcher (moto_server with requests served one at a time) is in moto-server.mjs, which the
 * AWS benchmark shares.
 */
export function startMoto(
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<MotoServer> {
  return startMotoServer(options);
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
