/**
 * A provider (AWS, or any cloud API berth calls) that cannot be reached or keeps failing is not a
 * bug in berth: the user is told which call to which endpoint failed and why, and the command
 * exits 1. It stays a TransientError, so that a step retries it before giving up.
 */
import { TransientError, UserError } from './errors.js';

export class ProviderUnavailableError extends TransientError {
  constructor(
    /** e.g. "AWS ECS ListServices" */
    readonly call: string,
    /** e.g. "https://ecs.eu-west-1.amazonaws.com" */
    readonly endpoint: string,
    /** Why, in words: "connection refused (ECONNREFUSED)", "HTTP 503 after 3 attempts". */
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${call} at ${endpoint} failed: ${reason}`, options);
    this.name = 'ProviderUnavailableError';
  }
}

/** Network failures, by the code Node or the SDK gives them, in words. */
const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  ECONNABORTED: 'connection aborted',
  TimeoutError: 'timed out',
  RequestTimeout: 'timed out',
};

/** "connection refused (ECONNREFUSED)" for a network error; null for anything else. */
export function networkFailure(error: unknown): string | null {
  const e = error as { code?: string; name?: string; errors?: unknown[] } | null;
  if (!e) return null;
  for (const code of [e.code, e.name]) {
    if (code && Object.hasOwn(NETWORK_CODES, code)) return `${NETWORK_CODES[code]} (${code})`;
  }
  // Node reports a host with several addresses as an AggregateError of one error per address.
  if (Array.isArray(e.errors) && e.errors.length > 0) return networkFailure(e.errors[0]);
  return null;
}

/**
 * The failure as a user sees it, when it is a provider's and not berth's: exit 1 naming the call
 * and the endpoint. Null for anything else (a real bug, exit 70).
 */
export function providerFailure(error: unknown): UserError | null {
  if (error instanceof UserError) return null;
  if (error instanceof ProviderUnavailableError) {
    return new UserError(error.message, {
      code: 'provider_unreachable',
      exitCode: 1,
      hint: 'check that the endpoint is reachable from here (network, VPN, proxy, credentials) and the provider’s status, then run the command again',
      cause: error,
    });
  }
  return null;
}
