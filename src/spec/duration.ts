/**
 * Durations as written in berth.yaml: "500ms", "2s", "1.5s", "1m", "1h", or a bare number of seconds.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PATTERN = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?$/;

/** The largest duration berth accepts anywhere: 24 hours. */
export const MAX_DURATION_MS = 24 * 3_600_000;

/**
 * Parses a duration into whole milliseconds: a string with a unit (`ms`, `s`, `m`, `h`, e.g. "500ms",
 * "2s", "1m"), a string without a unit, or a number; both of the latter mean seconds.
 * Returns undefined for anything else: negative, not finite, empty, unknown units, more than 24 hours,
 * or a value that rounds to a fractional millisecond (e.g. "0.5ms").
 */
export function parseDuration(value: unknown): number | undefined {
  let amount: number;
  let unitMs: number;
  if (typeof value === 'number') {
    amount = value;
    unitMs = 1000;
  } else if (typeof value === 'string') {
    const match = DURATION_PATTERN.exec(value.trim());
    if (!match) return undefined;
    amount = Number(match[1]);
    unitMs = UNIT_MS[match[2] ?? 's']!;
  } else {
    return undefined;
  }
  if (!Number.isFinite(amount) || amount < 0) return undefined;
  const ms = amount * unitMs;
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) return undefined;
  const rounded = Math.round(ms);
  // Reject sub-millisecond precision ("0.5ms", "0.0001s") rather than silently rounding it.
  if (Math.abs(ms - rounded) > 1e-6) return undefined;
  return rounded;
}

/** Renders milliseconds the way a user would write them: 1500 -> "1.5s", 500 -> "500ms", 60000 -> "1m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
