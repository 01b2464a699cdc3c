import { stableStringify } from '../core/stable-json.js';
import type { DesiredResource, DriftField, ObservedResource } from './provider.js';

/** Compares the named attribute fields of a desired and an observed resource. */
export function diffFields(
  desired: DesiredResource,
  observed: ObservedResource,
  fields: string[],
): DriftField[] {
  const drift: DriftField[] = [];
  for (const field of fields) {
    const want = desired.attributes[field];
    const have = observed.attributes[field];
    if (stableStringify(want) !== stableStringify(have)) drift.push({ field, desired: want, observed: have });
  }
  return drift;
}
