import { randomBytes } from 'node:crypto';

/** A short random id with a readable prefix, e.g. `op-3f9a1c2b7d4e`. */
export function newId(prefix: string, bytes = 6): string {
  return `${prefix}-${randomBytes(bytes).toString('hex')}`;
}

/** The DNS label rule used for service names: 1–40 of a-z, 0-9, '-', not starting or ending with '-'. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
