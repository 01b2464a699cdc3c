import type { DesiredResource, ObservedResource, ResourceDriver } from '../providers/provider.js';
import type { ResourceRecord } from '../state/store.js';

export interface ConvergeResult {
  /** What now exists for each desired resource, in the order desired. */
  kept: ObservedResource[];
  created: ObservedResource[];
  updated: ObservedResource[];
  /** Duplicates and resources no longer desired, removed (or found already gone). */
  removed: ObservedResource[];
}

/**
 * Makes what exists of one kind match what is desired, like controller-runtime's CreateOrUpdate
 * for a set: for each desired key keep one existing resource (preferring the one in berth's
 * inventory), update it when it differs, create it when missing; remove duplicates and anything
 * tagged for this service that is not desired. Idempotent: a second run changes nothing.
 */
export async function convergeKind(
  driver: ResourceDriver,
  desired: DesiredResource[],
  observed: ObservedResource[],
  inventory: ResourceRecord[],
): Promise<ConvergeResult> {
  const known = new Set(inventory.map((record) => record.providerId));
  const result: ConvergeResult = { kept: [], created: [], updated: [], removed: [] };
  const claimed = new Set<string>();

  for (const want of desired) {
    const matches = observed
      .filter((have) => have.key === want.key && !claimed.has(have.providerId))
      .sort((a, b) => Number(known.has(b.providerId)) - Number(known.has(a.providerId)));
    let current = matches[0];
    if (current) {
      claimed.add(current.providerId);
      if (driver.diff(want, current).length > 0) {
        const updated = await driver.update(current.providerId, want);
        if (updated) result.updated.push(updated);
        current = updated ?? undefined;
      }
    }
    if (!current) {
      current = await driver.create(want);
      result.created.push(current);
    }
    result.kept.push(current);
  }

  for (const extra of observed.filter((have) => !claimed.has(have.providerId))) {
    await driver.delete(extra.providerId);
    result.removed.push(extra);
  }
  return result;
}

/** "created route rt-1 (a.local.localhost); removed 1 duplicate", or "unchanged". */
export function describeConverge(kind: string, result: ConvergeResult): string {
  const parts: string[] = [];
  for (const item of result.created) parts.push(`created ${kind} ${item.providerId} (${item.name})`);
  for (const item of result.updated) parts.push(`updated ${kind} ${item.providerId} (${item.name})`);
  if (result.removed.length > 0) {
    parts.push(`removed ${result.removed.map((item) => `${item.providerId} (${item.name})`).join(', ')}`);
  }
  if (parts.length === 0) {
    return `${result.kept.map((item) => `${item.providerId} (${item.name})`).join(', ') || 'nothing desired'}: unchanged`;
  }
  return parts.join('; ');
}
