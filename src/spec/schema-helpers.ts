/** Small zod building blocks shared by the berth.yaml and berth.config.yaml schemas. */
import * as z from 'zod';

import { describeValue, type PathSegment } from './diagnostics.js';

/** Reports one problem from a hand-written check; `path` is relative to the checked value. */
export type Report = (message: string, hint?: string, path?: PathSegment[]) => void;

/**
 * A field checked by hand-written code, for rules zod cannot say well (argv, durations, maps with
 * per-key rules). `check` reports each problem and returns the parsed value (ignored on error).
 * It also sees `undefined` when the key is absent; wrap with `.optional()` for optional fields.
 */
export function checked<T>(check: (value: unknown, report: Report) => T) {
  return z
    .unknown()
    .transform((value, ctx) =>
      check(value, (message, hint, path = []) =>
        ctx.addIssue({ code: 'custom', message, path, input: value, params: hint ? { hint } : {} }),
      ),
    );
}

/** Treats a YAML `key:` with no value (null) as the given empty value, e.g. `env:` as `{}`. */
export function nullAs<S extends z.ZodType>(empty: unknown, schema: S) {
  return z.preprocess((value) => (value === null ? empty : value), schema);
}

/** `must be ..., got X` in one place, so all messages read alike. */
export function mustBe(what: string, value: unknown): string {
  return `must be ${what}, got ${describeValue(value)}`;
}

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS host name: dot-separated labels of a-z, 0-9 and '-', at most 253 characters, not all-numeric TLD. */
export function isHostName(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.split('.');
  return labels.every((label) => HOST_LABEL.test(label)) && !/^\d+$/.test(labels.at(-1)!);
}

/** A best-effort DNS label made from a user's string, for "try X" hints; undefined when nothing is left. */
export function suggestLabel(value: string, maxLength = 40): string | undefined {
  const label = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, maxLength)
    .replace(/^-+|-+$/g, '');
  return label.length > 0 ? label : undefined;
}
