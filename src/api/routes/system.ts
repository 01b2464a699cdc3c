/** Health, the OpenAPI document, metrics and the dashboard placeholder. */
import type { ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';
import { buildOpenApi } from '../openapi.js';

const DASHBOARD_PLACEHOLDER = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>berth</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1rem .3rem}</style>
</head>
<body>
<h1>berth</h1>
<p>The dashboard will live here. Until then the control plane answers on its API:</p>
<ul>
<li><a href="/openapi.json">/openapi.json</a>: every route, with its schemas</li>
<li><code>berth status --env local</code>, <code>berth events SERVICE --env local --follow</code></li>
</ul>
</body>
</html>
`;

export function systemRoutes(context: ApiContext, allRoutes: () => RouteDefinition[]): RouteDefinition[] {
  let openapi: Record<string, unknown> | null = null;
  const page = defineRoute({
    method: 'GET',
    url: '/',
    summary: 'the dashboard (a placeholder for now)',
    tag: 'dashboard',
    access: 'public',
    responses: { 200: { description: 'an HTML page', html: true } },
    async handler({ reply }) {
      reply
        .type('text/html; charset=utf-8')
        .header(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        );
      return DASHBOARD_PLACEHOLDER;
    },
  });
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
      summary: 'Prometheus metrics: operations by kind and result, step durations, API latency',
      tag: 'system',
      access: 'authenticated',
      responses: { 200: { description: 'text/plain; version=0.0.4' } },
      async handler({ reply }) {
        reply.type(context.metrics.registry.contentType);
        return context.metrics.registry.metrics();
      },
    }),
    page,
    { ...page, url: '/dashboard/' },
  ];
}
