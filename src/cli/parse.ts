import { UserError } from '../core/errors.js';

/** A positive number of seconds from a flag, with a clear error naming the flag. */
export function parseSeconds(value: unknown, flag: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) {
    throw new UserError(`${flag} must be a number of seconds between 0 and 86400, not "${String(value)}"`, {
      hint: `e.g. ${flag} 120`,
    });
  }
  return seconds;
}

export function parsePositiveInt(value: unknown, flag: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new UserError(`${flag} must be a whole number of at least 1, not "${String(value)}"`);
  }
  return number;
}

const RELATIVE = /^(\d+(?:\.\d+)?)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A point in time from a flag: an ISO 8601 time, `now`, or an age such as `30m`, `2h`, `1d` (that long ago). */
export function parseTime(value: unknown, flag: string, now = Date.now()): string {
  const text = String(value).trim();
  if (text === 'now') return new Date(now).toISOString();
  const relative = RELATIVE.exec(text);
  if (relative) return new Date(now - Number(relative[1]) * UNIT_MS[relative[2]!]!).toISOString();
  const parsed = Date.parse(text);
  if (!Number.isNaN(parsed) && /^\d{4}-\d{2}-\d{2}/.test(text)) return new Date(parsed).toISOString();
  throw new UserError(
    `${flag} must be a time like 2026-11-26T09:30:00Z, "now", or an age like 30m, 2h or 1d; got "${text}"`,
  );
}

/** The environment a command about berth's own control plane acts on: `--env` is never guessed. */
export function requireControlPlaneEnv(globals: { env?: string }, hint: string): string {
  if (!globals.env) {
    throw new UserError('--env is required: the environment the control plane runs in', { hint });
  }
  return globals.env;
}
