/**
 * Tags berth puts on every resource it creates, so that leftovers and orphans can always be
 * found by tag, even when berth's own record of them is lost.
 */
export const TAG_MANAGED_BY = 'berth:managed-by';
export const TAG_ENV = 'berth:env';
export const TAG_SERVICE = 'berth:service';
export const TAG_GENERATION = 'berth:generation';
export const MANAGED_BY_VALUE = 'berth';

export type Tags = Record<string, string>;

export function berthTags(env: string, service: string, generation: number): Tags {
  return {
    [TAG_MANAGED_BY]: MANAGED_BY_VALUE,
    [TAG_ENV]: env,
    [TAG_SERVICE]: service,
    [TAG_GENERATION]: String(generation),
  };
}

/** True when every tag of `filter` is present with the same value in `tags`. */
export function matchesTags(tags: Tags, filter: Tags): boolean {
  return Object.entries(filter).every(([key, value]) => tags[key] === value);
}
