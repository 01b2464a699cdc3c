/**
 * The incident timeline of an environment: berth's events and audit and the provider's record of
 * changes, with the same entries and Markdown as `berth timeline`.
 */
import * as z from 'zod';
import { buildTimeline, timelineMarkdown } from '../../engine/timeline.js';
import type { ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';

const DAY_MS = 86_400_000;

const timelineQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional().describe('default: 24 hours ago'),
  until: z.iso.datetime({ offset: true }).optional().describe('default: now'),
  format: z.enum(['json', 'md']).default('json').describe('md: the Markdown table alone (text/markdown)'),
});

export function timelineRoutes({ plane }: ApiContext): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/timeline',
      summary:
        'events and audit of a window, oldest first, with outage markers, and the same Markdown as `berth timeline`',
      tag: 'events',
      access: 'read',
      query: timelineQuery,
      responses: { 200: { description: '{ env, since, until, entries, markdown } (or text/markdown)' } },
      async handler({ params, query, reply }) {
        const now = Date.now();
        // Normalized as the CLI normalizes its flags, so that both print the same header.
        const window = {
          since: new Date(query.since ?? now - DAY_MS).toISOString(),
          until: new Date(query.until ?? now).toISOString(),
        };
        // A window that ends before it starts holds nothing: an empty timeline, not an error
        // (each parameter is valid on its own; the CLI says so before it asks).
        const store = await plane.store(params.env!);
        // The provider's record of changes behind berth's back, as `berth timeline` shows it; a
        // timeline is still worth showing without it (e.g. the provider cannot be reached).
        const activity = await plane
          .open(params.env!)
          .then(async (open) => (await open.provider.activity?.(params.env!, window)) ?? [])
          .catch(() => []);
        const entries = await buildTimeline(store, params.env!, window, activity);
        const markdown = timelineMarkdown(params.env!, window, entries);
        if (query.format === 'md') {
          reply.type('text/markdown; charset=utf-8');
          return `${markdown}\n`;
        }
        return { env: params.env!, ...window, entries, markdown };
      },
    }),
  ];
}
