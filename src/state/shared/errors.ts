/**
 * The errors both stores raise for the same situations, worded the same way whichever store
 * raised them.
 */
import { ConflictError, NotFoundError } from '../../core/errors.js';

/**
 * A service write whose `expected` version (null: "must not exist") does not match the `actual`
 * stored one (null: there is none).
 */
export function serviceConflict(
  env: string,
  name: string,
  expected: number | null,
  actual: number | null,
): ConflictError {
  const what =
    expected === null
      ? `already exists (version ${actual})`
      : actual === null
        ? `no longer exists (expected version ${expected})`
        : `was changed by someone else (expected version ${expected}, found version ${actual})`;
  return new ConflictError(`service ${name} in ${env} ${what}`, {
    hint: 'read it again and retry; another deploy or command wrote it first',
  });
}

/**
 * Throws what `deleteService` owes a caller whose `expected` version is not the `actual` stored
 * one: NotFoundError when there is no service, ConflictError when its version differs. Returns
 * when they match.
 */
export function checkServiceVersionForDelete(
  env: string,
  name: string,
  expected: number,
  actual: number | null,
): void {
  if (actual === null) throw new NotFoundError(`service ${name} does not exist in ${env}`);
  if (actual !== expected) throw serviceConflict(env, name, expected, actual);
}

/** `createOperation` with an id that is already taken. */
export function operationExists(id: string): ConflictError {
  return new ConflictError(`operation ${id} already exists`);
}

/** An operation id the store does not know (e.g. in `saveOperation`). */
export function operationNotFound(id: string): NotFoundError {
  return new NotFoundError(`operation ${id} does not exist`);
}
