/**
 * Two kinds of failure reach a user:
 * - a UserError: something about the input, the environment or a safety rule. It prints a plain
 *   message, the details, and the next thing to try, and exits with its own code (2 bad input,
 *   3 refused by a safety guard, 4 API unreachable, 1 an operation failed).
 * - anything else: a bug. The CLI prints the stack and says so.
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

export interface UserErrorOptions {
  /** The next thing to try, shown after the message. */
  hint?: string;
  /** Further lines (one problem each), shown under the message. */
  details?: string[];
  exitCode?: ExitCode;
  /** A stable machine-readable code for `--json` and the API. */
  code?: string;
  cause?: unknown;
}

export class UserError extends Error {
  readonly hint?: string;
  readonly details: string[];
  readonly exitCode: ExitCode;
  readonly code: string;

  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'UserError';
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.exitCode = options.exitCode ?? 2;
    this.code = options.code ?? 'invalid_input';
  }
}

/** Refused by a safety guard (protection, identity mismatch, confirmation missing): exit 3. */
export class RefusedError extends UserError {
  constructor(message: string, options: Omit<UserErrorOptions, 'exitCode'> = {}) {
    super(message, { code: 'refused', ...options, exitCode: 3 });
    this.name = 'RefusedError';
  }
}

/** An operation ran and failed: exit 1. */
export class OperationFailedError extends UserError {
  constructor(message: string, options: Omit<UserErrorOptions, 'exitCode'> = {}) {
    super(message, { code: 'operation_failed', ...options, exitCode: 1 });
    this.name = 'OperationFailedError';
  }
}

/** A thing named by the user does not exist: exit 2. */
export class NotFoundError extends UserError {
  constructor(message: string, options: Omit<UserErrorOptions, 'exitCode'> = {}) {
    super(message, { code: 'not_found', ...options, exitCode: 2 });
    this.name = 'NotFoundError';
  }
}

/** An optimistic-concurrency check failed: someone else wrote first. */
export class ConflictError extends UserError {
  constructor(message: string, options: Omit<UserErrorOptions, 'exitCode'> = {}) {
    super(message, { code: 'conflict', ...options, exitCode: 2 });
    this.name = 'ConflictError';
  }
}

/**
 * A failure worth retrying (a connection refused while a process restarts, a throttle). Step
 * runners retry these with backoff; anything else fails the step at once.
 */
export class TransientError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'TransientError';
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
