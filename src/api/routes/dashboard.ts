/**
 * The dashboard's files: the page built by Vite into dist/dashboard (`npm run build:dashboard`),
 * served as static files without authentication. Every piece of data the page shows comes from
 * the API, with the page's session cookie. A strict CSP: nothing loads from anywhere but here.
 */
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { NotFoundError } from '../../core/errors.js';
import { PACKAGE_ROOT } from '../../core/package-root.js';
import type { RouteDefinition } from './define.js';
import { defineRoute } from './define.js';

/** dist/dashboard of this package, wherever this module runs from (src, dist or the bundle). */
export const DEFAULT_DASHBOARD_DIR = join(PACKAGE_ROOT, 'dist', 'dashboard') + '/';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Shown when the page was not built (e.g. `tsc` alone): says how to build it. */
const NOT_BUILT = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>berth</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1rem .3rem}</style>
</head>
<body>
<h1>berth</h1>
<p>The dashboard is not built in this installation: run <code>npm run build</code> (or <code>npm run build:dashboard</code>) and reload.</p>
<p>The control plane answers on its API meanwhile: <a href="/openapi.json">/openapi.json</a>, <code>berth status --env local</code>.</p>
</body>
</html>
`;

export function dashboardRoutes(dir: string = DEFAULT_DASHBOARD_DIR): RouteDefinition[] {
  const page = defineRoute({
    method: 'GET',
    url: '/',
    summary: 'the dashboard page (signs in with a one-time code or a pasted token, then uses this API)',
    tag: 'dashboard',
    access: 'public',
    responses: { 200: { description: 'an HTML page', html: true } },
    async handler({ reply }) {
      const html = await readFile(join(dir, 'index.html'), 'utf8').catch(() => null);
      reply.type('text/html; charset=utf-8');
      if (html === null) {
        reply.header(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        );
        return NOT_BUILT;
      }
      reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
      return html;
    },
  });
  return [
    page,
    { ...page, url: '/dashboard/' },
    defineRoute({
      method: 'GET',
      url: '/assets/:file',
      summary: "the dashboard's scripts and styles (content-hashed names)",
      tag: 'dashboard',
      access: 'public',
      responses: { 200: { description: 'a file' } },
      async handler({ params, reply }) {
        const file = params.file!;
        const type = TYPES[extname(file)];
        // Plain names only: nothing outside the assets folder can be named.
        const body =
          type && /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(file)
            ? await readFile(join(dir, 'assets', file)).catch(() => null)
            : null;
        if (!body) throw new NotFoundError(`the dashboard has no file "${file}"`);
        reply
          .type(type!)
          .header('cache-control', 'public, max-age=31536000, immutable')
          .header('content-security-policy', CSP);
        return body;
      },
    }),
  ];
}
