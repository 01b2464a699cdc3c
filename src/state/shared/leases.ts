/**
 * The lease decisions both stores make (see the contract in ../store.ts): a store reads what is
 * stored, asks these functions what to write, and writes it only if nothing changed meanwhile
 * (SQLite: inside its write lock; DynamoDB: with a conditional write, deciding again when it fails).
 */
import type { LeaseRecord } from '../store.js';

/**
 * Whether a lease held by `owner` until `expiresAt` is still held at `nowMs`: it has an owner and
 * has not expired (a lease is expired once `expiresAt <= nowMs`).
 */
export function isLeaseLive(owner: string | null, expiresAt: number | null, nowMs: number): boolean {
  return owner !== null && expiresAt !== null && expiresAt > nowMs;
}

/**
 * What `acquireLease` stores for `owner` given the `current` lease (null: never taken), or null
 * when another owner holds it unexpired. The lease then runs until `nowMs + ttlMs`. A renewal by
 * the live holder keeps its term (token); anything else starts a new one (token + 1, from 1).
 */
export function acquiredLease(
  current: LeaseRecord | null,
  name: string,
  owner: string,
  ttlMs: number,
  nowMs: number,
): LeaseRecord | null {
  const live = current !== null && isLeaseLive(current.owner, current.expiresAt, nowMs);
  if (live && current.owner !== owner) return null;
  const token = live ? current.token : (current?.token ?? 0) + 1;
  return { name, owner, expiresAt: nowMs + ttlMs, token };
}
