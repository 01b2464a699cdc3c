/**
 * Client-side rate limits that mirror AWS's own throttles, and retries for the throttling that
 * still happens (another tool in the same account spends the same budget).
 *
 * Each AWS API family has a token bucket (burst, refill per second) shared by every client in the
 * process that talks to the same region and endpoint, so a sweep over many services slows itself
 * down instead of being throttled. A throttled or transient failure is retried with full jitter;
 * only when the retries are spent does a TransientError reach the caller (the engine's step
 * runner retries those too), so throttling never surfaces as a user-visible failure.
 */
import type { InitializeMiddleware, MetadataBearer, MiddlewareStack } from '@smithy/types';

import { TransientError } from '../../core/errors.js';
import { countAwsCall } from './call-metrics.js';

export interface BucketSpec {
  /** Tokens available at once. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

/**
 * The budgets, from AWS's documentation (see notes/aws.md): ECS service reads burst 100 at 20/s,
 * writes burst 50 at 5/s, RegisterTaskDefinition burst 20 at 1/s; ELBv2 reads 40 at 10/s, writes
 * 20 at 3/s. Route 53 ("Throttling for Amazon Route 53 API requests", since its change-based
 * throttling): one account bucket, burst 50 at 10/s (it was a flat 5/s before), plus a bucket per
 * operation (default the same; CreateHealthCheck 0.5/s, GetHealthCheckStatus burst 4 at 1/s).
 */
export const API_FAMILIES: Record<string, BucketSpec> = {
  'ecs-read': { burst: 100, perSecond: 20 },
  'ecs-write': { burst: 50, perSecond: 5 },
  'ecs-register': { burst: 20, perSecond: 1 },
  'elbv2-read': { burst: 40, perSecond: 10 },
  'elbv2-write': { burst: 20, perSecond: 3 },
  route53: { burst: 50, perSecond: 10 },
  'route53-create-health-check': { burst: 1, perSecond: 0.5 },
  'route53-health-status': { burst: 4, perSecond: 1 },
  // Resource Groups Tagging API: GetResources is documented at 10/s per account, burst 20 is a guess.
  tagging: { burst: 20, perSecond: 10 },
  // CloudWatch Logs: FilterLogEvents 5/s per account and region (PutLogEvents is the tasks').
  logs: { burst: 5, perSecond: 5 },
  ec2: { burst: 100, perSecond: 20 },
  sts: { burst: 50, perSecond: 10 },
  dynamodb: { burst: 1000, perSecond: 500 },
};

export type AwsService =
  'ecs' | 'elbv2' | 'route53' | 'ec2' | 'sts' | 'dynamodb' | 'ssm' | 'tagging' | 'logs';

/** Which bucket a call spends from. */
export function apiFamily(service: AwsService, command: string): string {
  const read = /^(Describe|List|Get)/.test(command);
  switch (service) {
    case 'ecs':
      if (command === 'RegisterTaskDefinitionCommand') return 'ecs-register';
      return read ? 'ecs-read' : 'ecs-write';
    case 'elbv2':
      return read ? 'elbv2-read' : 'elbv2-write';
    case 'route53':
      if (command === 'CreateHealthCheckCommand') return 'route53-create-health-check';
      if (command === 'GetHealthCheckStatusCommand') return 'route53-health-status';
      return 'route53';
    default:
      return service;
  }
}

/** A token bucket; `take` waits (FIFO, by reservation) until a token is available. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = spec.burst;
    this.last = now();
  }

  /** Milliseconds the caller must wait for its token (0 when one is free now). */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.spec.burst, this.tokens + ((now - this.last) / 1000) * this.spec.perSecond);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.spec.perSecond) * 1000);
  }

  async take(): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

const buckets = new Map<string, TokenBucket>();

/** The process-wide bucket of one API family at one region and endpoint. */
export function bucketFor(scope: string, family: string): TokenBucket {
  const key = `${scope}|${family}`;
  let bucket = buckets.get(key);
  if (!bucket) {
    bucket = new TokenBucket(API_FAMILIES[family] ?? { burst: 50, perSecond: 10 });
    buckets.set(key, bucket);
  }
  return bucket;
}

export interface RetryOptions {
  /**
   * 'aws' (default): the client-side rate limits above. 'off': none (tests against a local
   * emulator that make hundreds of writes; never for AWS itself).
   */
  rateLimits?: 'aws' | 'off';
  /** Attempts in all for a throttled call. Default 10. */
  throttleAttempts?: number;
  /** Attempts in all for a transient failure (HTTP 5xx, connection reset). Default 3. */
  transientAttempts?: number;
  /** First backoff ceiling; doubles per attempt. Default 100 ms. */
  baseDelayMs?: number;
  /** Largest backoff ceiling. Default 5 s. */
  maxDelayMs?: number;
}

const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceededException',
  'PriorRequestNotComplete',
  'SlowDown',
]);

interface AwsErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

export function isThrottle(error: unknown): boolean {
  const e = error as AwsErrorShape;
  return (
    THROTTLE_NAMES.has(e?.name ?? '') ||
    e?.$metadata?.httpStatusCode === 429 ||
    e?.$retryable?.throttling === true
  );
}

export function isTransient(error: unknown): boolean {
  const e = error as AwsErrorShape;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'TimeoutError', 'RequestTimeout'].includes(
    e?.code ?? e?.name ?? '',
  );
}

/** Full jitter: a random wait between 0 and the attempt's exponential ceiling. */
export function backoffMs(attempt: number, options: RetryOptions = {}): number {
  const base = options.baseDelayMs ?? 100;
  const ceiling = Math.min(options.maxDelayMs ?? 5_000, base * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}

/**
 * Adds the rate limit and the retries to an SDK client's middleware stack. It runs first (the
 * `initialize` step), so every retry is serialised and signed afresh and every attempt, retries
 * included, spends a token.
 */
export function installThrottle<I extends object, O extends MetadataBearer>(
  stack: MiddlewareStack<I, O>,
  service: AwsService,
  scope: string,
  options: RetryOptions = {},
): void {
  const middleware: InitializeMiddleware<I, O> = (next, context) => async (args) => {
    const command = context.commandName ?? 'UnknownCommand';
    const bucket = bucketFor(scope, apiFamily(service, command));
    const throttleAttempts = options.throttleAttempts ?? 10;
    const transientAttempts = options.transientAttempts ?? 3;
    const operation = command.replace(/Command$/, '');
    for (let attempt = 1; ; attempt++) {
      if (options.rateLimits !== 'off') await bucket.take();
      try {
        const out = await next(args);
        countAwsCall(service, operation, 'ok');
        return out;
      } catch (error) {
        const throttled = isThrottle(error);
        countAwsCall(service, operation, throttled ? 'throttled' : 'error');
        const retryable = throttled || isTransient(error);
        const limit = throttled ? throttleAttempts : transientAttempts;
        if (!retryable) throw error;
        if (attempt >= limit) {
          const what = throttled ? 'throttled' : 'failed';
          throw new TransientError(
            `${service} ${operation} ${what} ${attempt} times: ${(error as Error).message}`,
            { cause: error },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, options)));
      }
    }
  };
  stack.add(middleware, { step: 'initialize', name: 'berthThrottle', priority: 'high' });
}
