import { randomBytes } from 'node:crypto';

/** A short random id with a readable prefix, e.g. `op-3f9a1c2b7d4e`. */
export function newId(prefix: string, bytes = 6): string {
  return `${prefix}-${randomBytes(bytes).toString('hex')}`;
}

/** The DNS label rule used for service names: 1–40 of a-z, 0-9, '-', not starting or ending with '-'. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/**
 * A name in the local runtime: 1–100 of the same characters. Providers compose it from a service,
 * an environment and a generation (`<service>-<env>-g<n>`), so it must hold two names of 40.
 */
export const RUNTIME_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$/;
