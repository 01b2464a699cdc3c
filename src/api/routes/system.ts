/** Health, the OpenAPI document and metrics (the dashboard's files: dashboard.ts). */
import type { ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';
import { buildOpenApi } from '../openapi.js';
import { scopeMetrics } from '../metrics.js';
import { allows, roleIn } from '../tokens.js';

export function systemRoutes(context: ApiContext, allRoutes: () => RouteDefinition[]): RouteDefinition[] {
  let openapi: Record<string, unknown> | null = null;
  return [
    defineRoute({
      method: 'GET',
      url: '/healthz',
      summary: 'liveness: answers while the control plane runs',
      tag: 'system',
      access: 'public',
      responses: { 200: { description: '{ ok: true }' } },
      async handler() {
        return { ok: true, version: context.version };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/openapi.json',
      summary: 'this document',
      tag: 'system',
      access: 'public',
      responses: { 200: { description: 'the OpenAPI 3.1 document' } },
      async handler() {
        openapi ??= buildOpenApi(allRoutes(), context.version);
        return openapi;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/metrics',
      summary:
        'Prometheus metrics: operations by kind and result, step durations, API latency; only the environments the token may read',
      tag: 'system',
      access: 'authenticated',
      responses: { 200: { description: 'text/plain; version=0.0.4' } },
      async handler({ reply, principal }) {
        reply.type(context.metrics.registry.contentType);
        // a series of an environment the token may not read is left out, as its events are
        return scopeMetrics(await context.metrics.registry.metrics(), (env) =>
          allows(roleIn(principal, env), 'read'),
        );
      },
    }),
  ];
}
