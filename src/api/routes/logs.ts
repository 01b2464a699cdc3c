/**
 * A service's log lines: what `berth logs` prints and the dashboard's service page shows. A viewer
 * reads them as it reads specs and events: every `env:` value the service was ever deployed with
 * is hidden wherever a replica printed it. Secret values never get this far from the local
 * runtime (it masks them as it reads its files); on AWS berth never reads a secret's value, so a
 * task that prints its own secret puts it into CloudWatch Logs, and from there into this answer.
 */
import * as z from 'zod';
import { MAX_LOG_LINES, serviceLogs } from '../../engine/logs.js';
import { hideValuesInText, seesEnvValues } from '../redact.js';
import type { ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';

/** What `berth logs` shows without --since. */
export const DEFAULT_LOGS_SINCE_MS = 10 * 60_000;
export const DEFAULT_LOG_LINES = 200;

export const logsQuery = z.strictObject({
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('lines from this time on (default: 10 minutes ago); the local runtime keeps no times'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_LOG_LINES)
    .default(DEFAULT_LOG_LINES)
    .describe('at most the newest N lines'),
});

export const logLineSchema = z
  .object({
    time: z.number().int().nullable().describe('ms since the epoch; null where the provider keeps no times'),
    source: z.string().describe('the task or replica that printed it'),
    message: z.string(),
  })
  .meta({ id: 'LogLine' });

export const serviceLogsSchema = z
  .object({
    service: z.string(),
    timed: z.boolean().describe('false: the lines carry no times and `since` did not apply'),
    lines: z.array(logLineSchema).describe('oldest first'),
  })
  .meta({ id: 'ServiceLogs' });

export function logRoutes({ plane }: ApiContext): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/services/:service/logs',
      summary: "what a service's replicas printed, oldest first (AWS: CloudWatch Logs; local: replica files)",
      tag: 'services',
      access: 'read',
      query: logsQuery,
      responses: { 200: { description: 'the lines', schema: serviceLogsSchema } },
      async handler({ params, query, request }) {
        const open = await plane.open(params.env!);
        const since = query.since ? Date.parse(query.since) : Date.now() - DEFAULT_LOGS_SINCE_MS;
        const logs = await serviceLogs(open.store, open.provider, open.env.name, params.service!, {
          startTime: Math.max(0, since),
          limit: query.limit,
        });
        if (seesEnvValues(request)) return logs;
        const revisions = await open.store.listRevisions(open.env.name, params.service!);
        const values = revisions.flatMap((revision) => Object.values(revision.spec.env ?? {}));
        return {
          ...logs,
          lines: logs.lines.map((line) => ({ ...line, message: hideValuesInText(line.message, values) })),
        };
      },
    }),
  ];
}
