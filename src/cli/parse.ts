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
