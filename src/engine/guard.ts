import { userInfo } from 'node:os';
import { RefusedError, errorMessage, isUserError, type UserError } from '../core/errors.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { StateStore } from '../state/store.js';

/** Who asks for a change, and through which door: recorded in every audit entry. */
export interface Actor {
  /** A token's name (API) or the OS user (direct mode). */
  name: string;
  interface: 'api' | 'direct';
}

export function directActor(): Actor {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep 'unknown'
  }
  return { name, interface: 'direct' };
}

/**
 * In a protected environment destruction is deliberate: the caller must name the environment
 * (`--confirm <env>` or a typed prompt in the CLI, `confirm` in the API). `--yes` is not enough.
 */
export function requireConfirmation(env: EnvironmentConfig, confirm: string | undefined, what: string): void {
  if (!env.protected) return;
  if (confirm === env.name) return;
  throw new RefusedError(
    confirm === undefined
      ? `${env.name} is protected: to ${what} there, confirm with the environment's name`
      : `the confirmation "${confirm}" does not match the environment ${env.name}`,
    { code: 'confirmation_required', hint: `pass --confirm ${env.name} (or type ${env.name} when asked)` },
  );
}

/** Codes of input errors that are refusals all the same: the request asks for what is not the caller's. */
const REFUSAL_CODES = new Set(['hostname_taken']);

/** A safety guard said no (exit 3), or the request claimed what belongs to someone else. */
export function isRefusal(error: unknown): error is UserError {
  return error instanceof RefusedError || (isUserError(error) && REFUSAL_CODES.has(error.code));
}

/** Errors already written to an audit trail, so that an outer layer does not write them twice. */
const auditedErrors = new WeakSet<object>();

export function wasAudited(error: unknown): boolean {
  return typeof error === 'object' && error !== null && auditedErrors.has(error);
}

function markAudited(error: unknown): void {
  if (typeof error === 'object' && error !== null) auditedErrors.add(error);
}

/**
 * Records a refusal that happened outside a mutation (an identity check while opening the
 * environment, a protected environment not named, a token without the role) in the
 * environment's own store. Never throws: the refusal itself is what the caller must see.
 */
export async function auditRefusal(
  store: StateStore,
  entry: {
    actor: Actor;
    env: string;
    action: string;
    args?: Record<string, unknown>;
    identity?: string | null;
    error: unknown;
  },
): Promise<void> {
  if (wasAudited(entry.error)) return;
  markAudited(entry.error);
  await store
    .appendAudit({
      actor: entry.actor.name,
      interface: entry.actor.interface,
      env: entry.env,
      identity: entry.identity ?? null,
      action: entry.action,
      args: entry.args ?? {},
      result: `refused: ${errorMessage(entry.error)}`,
    })
    .catch(() => undefined);
}

/**
 * Runs a mutation and records an audit entry whatever happens: who, through which interface,
 * where, with which verified identity, what, with which arguments, and the result.
 */
export async function audited<T>(
  store: StateStore,
  entry: {
    actor: Actor;
    env: string;
    identity: () => string | null;
    action: string;
    args: Record<string, unknown>;
  },
  work: () => Promise<T>,
  describe: (value: T) => string,
): Promise<T> {
  const record = (result: string) =>
    store.appendAudit({
      actor: entry.actor.name,
      interface: entry.actor.interface,
      env: entry.env,
      identity: entry.identity(),
      action: entry.action,
      args: entry.args,
      result,
    });
  try {
    const value = await work();
    await record(describe(value));
    return value;
  } catch (error) {
    const kind = isRefusal(error) ? 'refused' : isUserError(error) ? 'rejected' : 'error';
    await record(`${kind}: ${errorMessage(error)}`).catch(() => undefined);
    markAudited(error);
    throw error;
  }
}
