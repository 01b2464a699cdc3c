/**
 * How berth reaches AWS: region, optional endpoint (an AWS-compatible test server), credentials,
 * and the hooks every SDK client gets (rate limits and retries; tests add their own middleware).
 */
import type {
  AwsCredentialIdentity,
  AwsCredentialIdentityProvider,
  MetadataBearer,
  MiddlewareStack,
} from '@smithy/types';

import { installThrottle, type AwsService, type RetryOptions } from './throttle.js';
import { installUnreachable } from './unreachable.js';

// berth supports Node 20 and pins SDK versions that do; the SDK's notice that later versions will
// need Node 22 would otherwise print on every AWS command's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface AwsConnection {
  region: string;
  /** An AWS-compatible endpoint (tests: a moto server). Default: AWS itself. */
  endpoint?: string;
  /** Default: the SDK's credential chain (environment, profile, SSO, instance role). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  retry?: RetryOptions;
  /**
   * Called with every client's middleware stack after berth's own middleware is in place
   * (tests count calls, inject throttling, or pick a moto account with a header).
   */
  customize?: (stack: MiddlewareStack<object, MetadataBearer>, service: AwsService) => void;
}

/** The settings every SDK client is built with. The SDK's own retries are off: throttle.ts retries. */
export function clientConfig(connection: AwsConnection) {
  return {
    region: connection.region,
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    ...(connection.credentials ? { credentials: connection.credentials } : {}),
    maxAttempts: 1,
  };
}

/** Installs berth's middleware (and the connection's customisation) on a new SDK client. */
export function prepareClient<C extends { middlewareStack: unknown }>(
  client: C,
  service: AwsService,
  connection: AwsConnection,
): C {
  const stack = client.middlewareStack as unknown as MiddlewareStack<object, MetadataBearer>;
  // Added first, so it wraps the throttle: it sees a call's failure once every retry is spent.
  installUnreachable(
    stack,
    service,
    connection.endpoint ?? `https://${service}.${connection.region}.amazonaws.com`,
  );
  installThrottle(stack, service, `${connection.region}|${connection.endpoint ?? 'aws'}`, connection.retry);
  connection.customize?.(stack, service);
  return client;
}

/** The error name an AWS SDK error carries (e.g. "ServiceNotFoundException"). */
export function awsErrorName(error: unknown): string {
  return (error as { name?: string })?.name ?? '';
}

/** "ecs CreateService: <why>" — what was tried and why it failed. */
export function describeAwsError(what: string, error: unknown): string {
  return `${what}: ${awsErrorName(error) ? `${awsErrorName(error)}: ` : ''}${(error as Error)?.message ?? String(error)}`;
}
