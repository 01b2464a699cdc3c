/**
 * Caller input in the form both stores keep and compare: times as `Date#toISOString()` instants,
 * limits as whole non-negative counts.
 */
import { isoTime } from '../../core/clock.js';

/**
 * `value` in `toISOString()` form, the only form the stores keep, so that comparing stored times as
 * strings orders them as instants: an input with an offset ('...+02:00') is converted, not compared
 * as text. TypeError (naming the input as `what`) when it is not a time.
 */
export function normalizeTime(value: string, what: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`${what} is not an ISO time: ${JSON.stringify(value)}`);
  return isoTime(ms);
}

/**
 * The query with its inclusive time bounds (`since`, `until`) normalised by normalizeTime, checked
 * in that order; everything else is left as given.
 */
export function normalizeTimeBounds<Q extends { since?: string; until?: string }>(query: Q): Q {
  return {
    ...query,
    ...(query.since === undefined ? {} : { since: normalizeTime(query.since, 'since') }),
    ...(query.until === undefined ? {} : { until: normalizeTime(query.until, 'until') }),
  };
}

/**
 * A `limit` as a count of items: fractions round down, and a negative limit (a caller bug) yields
 * nothing rather than everything (SQLite, for one, would read a negative LIMIT as "no limit").
 */
export function normalizeLimit(limit: number): number {
  return Math.max(0, Math.floor(limit));
}
