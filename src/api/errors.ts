/**
 * Every API error is JSON `{ error, message, details[], hint, exitCode }` with a 4xx status; a 5xx
 * means a bug. `exitCode` is what the CLI exits with, so that a command fails the same way over
 * the API as in direct mode.
 */
import type { FastifyError } from 'fastify';
import type * as z from 'zod';
import { isUserError, type ExitCode } from '../core/errors.js';
import { providerFailure } from '../core/provider-errors.js';
import { storageFailure } from '../core/storage-errors.js';

export interface ApiErrorBody {
  error: string;
  message: string;
  details: string[];
  hint: string | null;
  exitCode: number;
}

/** An error with its HTTP status, raised by the API layer itself (auth, validation, routing). */
export class HttpError extends Error {
  readonly details: string[];
  readonly hint?: string;
  readonly exitCode: ExitCode;
  /** The environment a refusal concerns, when the URL does not name it (audited there). */
  readonly env?: string;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: { details?: string[]; hint?: string; exitCode?: ExitCode; env?: string } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.details = options.details ?? [];
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 2;
    this.env = options.env;
  }
}

/** The HTTP status for a UserError's code (the engine's errors know nothing of HTTP). */
function statusForUserError(code: string, exitCode: number): number {
  if (code === 'not_found') return 404;
  // the request is well formed but conflicts with what exists (a host name another service owns)
  if (code === 'conflict' || code === 'operation_active' || code === 'hostname_taken') return 409;
  if (exitCode === 3) return 409; // refused by a safety guard: the request is fine, the state says no
  if (exitCode === 1) return 422;
  return 400;
}

/** Lines "path: message" for each problem zod found. */
export function zodDetails(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`);
}

export function toHttpError(error: unknown): { status: number; body: ApiErrorBody } {
  if (error instanceof HttpError) {
    return {
      status: error.status,
      body: {
        error: error.code,
        message: error.message,
        details: error.details,
        hint: error.hint ?? null,
        exitCode: error.exitCode,
      },
    };
  }
  if (isUserError(error)) {
    return {
      status: statusForUserError(error.code, error.exitCode),
      body: {
        error: error.code,
        message: error.message,
        details: error.details,
        hint: error.hint ?? null,
        exitCode: error.exitCode,
      },
    };
  }
  const unreachable = providerFailure(error) ?? storageFailure(error);
  if (unreachable) {
    // The provider or the disk behind the API failed, not the API: 502/507, and the CLI exits 1.
    return {
      status: unreachable.code === 'storage_unavailable' ? 507 : 502,
      body: {
        error: unreachable.code,
        message: unreachable.message,
        details: unreachable.details,
        hint: unreachable.hint ?? null,
        exitCode: unreachable.exitCode,
      },
    };
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    // no environment, service or operation has a name that long: nothing is there (the OpenAPI
    // document declares the limit as the parameters' maxLength)
    return {
      status: 404,
      body: {
        error: 'not_found',
        message: 'nothing here: a name in the path is longer than 100 characters',
        details: [],
        hint: 'names of environments and services are at most 40 characters',
        exitCode: 2,
      },
    };
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return {
      status: fastifyError.statusCode,
      body: {
        error: (fastifyError.code ?? 'bad_request').toLowerCase(),
        message: fastifyError.message ?? 'bad request',
        details: [],
        hint: null,
        exitCode: 2,
      },
    };
  }
  return {
    status: 500,
    body: {
      error: 'internal',
      message: 'internal error (this is a bug in berth, please report it; the server log has the stack)',
      details: [],
      hint: null,
      exitCode: 1,
    },
  };
}
