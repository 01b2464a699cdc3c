import { statSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredRoute } from '../../src/api/app.js';
import { apiPaths } from '../../src/api/paths.js';
import { concrete, HOST, startTestApi, type TestApi } from './helpers.js';

/** Routes that change nothing although they are not GET: they still need only a viewer. */
const READ_ONLY_POSTS = ['/v1/envs/:env/plan'];
/** Signing the dashboard in and out changes only the caller's own session (see sessions.test.ts). */
const SESSION_ROUTES = ['/v1/session/exchange', '/v1/session'];

describe('API security', () => {
  let api: TestApi;
  let routes: RegisteredRoute[];
  beforeAll(async () => {
    api = await startTestApi();
    routes = api.routes;
  });
  afterAll(async () => {
    await api.close();
  });

  const inject = (
    route: { method: string; url: string },
    headers: Record<string, string> = {},
    env?: string,
  ) =>
    api.app.inject({
      method: route.method as 'GET',
      url: concrete(route.url, env),
      headers: { host: HOST, ...headers },
      ...(['POST', 'PUT'].includes(route.method) ? { payload: {} } : {}),
    });

  it('knows its routes (the list the other tests walk)', () => {
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.map((r) => `${r.method} ${r.url}`)).toContain('PUT /v1/envs/:env/services/:service');
  });

  it('every route but /healthz, /openapi.json and the dashboard answers 401 without a token', async () => {
    const open = routes.filter((r) => r.access === 'public').map((r) => r.url);
    expect(new Set(open)).toEqual(
      new Set(['/healthz', '/openapi.json', '/', '/dashboard/', '/assets/:file', '/v1/session/exchange']),
    );
    for (const route of routes.filter((r) => r.access !== 'public')) {
      const response = await inject(route);
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      if (route.method !== 'HEAD') expect(response.json()).toMatchObject({ error: 'unauthenticated' });
      const wrong = await inject(route, { authorization: 'Bearer berth_not-a-real-token' });
      expect(wrong.statusCode, `${route.method} ${route.url} with a bad token`).toBe(401);
    }
    // Unknown paths too: nothing is learned without a token.
    expect((await inject({ method: 'GET', url: '/v1/secret' })).statusCode).toBe(401);
  });

  it('every mutation needs at least a deployer: a viewer gets 403', async () => {
    const viewer = api.token('viewer-all', { '*': 'viewer' });
    const mutations = routes.filter((r) => r.access === 'deploy' || r.access === 'admin');
    expect(mutations.length).toBeGreaterThanOrEqual(6);
    // A new non-GET route must be declared a mutation (or listed as read-only here on purpose).
    for (const route of routes.filter((r) => !['GET', 'HEAD'].includes(r.method))) {
      if (![...READ_ONLY_POSTS, ...SESSION_ROUTES].includes(route.url))
        expect(mutations, route.url).toContainEqual(route);
    }
    for (const route of mutations) {
      const response = await inject(route, { authorization: `Bearer ${viewer}` });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(403);
      if (route.method !== 'HEAD') expect(response.json()).toMatchObject({ error: 'forbidden', exitCode: 3 });
    }
  });

  it('a staging-only token gets 403 on every production route, and reads staging', async () => {
    const staging = api.token('ci-staging', { staging: 'deployer' });
    for (const route of routes.filter((r) => r.url.includes(':env'))) {
      const response = await inject(route, { authorization: `Bearer ${staging}` }, 'production');
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(403);
    }
    const own = await inject(
      { method: 'GET', url: '/v1/envs/:env/operations' },
      { authorization: `Bearer ${staging}` },
      'staging',
    );
    expect(own.statusCode).toBe(200);
    const envs = await inject({ method: 'GET', url: '/v1/envs' }, { authorization: `Bearer ${staging}` });
    expect(envs.json().map((e: { name: string; role: string }) => `${e.name}:${e.role}`)).toEqual([
      'staging:deployer',
    ]);
    // Making tokens is for admins of the environments the token names.
    const escalate = await api.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: { host: HOST, authorization: `Bearer ${staging}` },
      payload: { name: 'sneaky', roles: { production: 'admin' } },
    });
    expect(escalate.statusCode).toBe(403);
  });

  it('refuses a Host that is not on the allow-list, on every route but /healthz (DNS rebinding)', async () => {
    const admin = api.token('admin-host-test', { '*': 'admin' });
    for (const host of ['evil.example.com', 'evil.example.com:80', 'localhost:8080', '127.0.0.1.nip.io:80']) {
      for (const route of routes) {
        const response = await inject(route, { host, authorization: `Bearer ${admin}` });
        // /healthz says only "up" and must answer a load balancer that calls a target by its address
        const expected = route.url === '/healthz' ? 200 : 421;
        expect(response.statusCode, `${host} ${route.method} ${route.url}`).toBe(expected);
      }
    }
    for (const host of ['localhost:80', '127.0.0.1:80', '[::1]:80']) {
      expect((await inject({ method: 'GET', url: '/healthz' }, { host })).statusCode).toBe(200);
    }
  });

  it('sends no CORS headers, also not to a preflight', async () => {
    const admin = api.token('admin-cors-test', { '*': 'admin' });
    const origin = { origin: 'https://evil.example.com' };
    const get = await inject(
      { method: 'GET', url: '/v1/envs' },
      { ...origin, authorization: `Bearer ${admin}` },
    );
    const preflight = await api.app.inject({
      method: 'OPTIONS',
      url: '/v1/envs/local/services/hello',
      headers: { host: HOST, ...origin, 'access-control-request-method': 'PUT' },
    });
    for (const response of [get, preflight]) {
      expect(Object.keys(response.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
    expect(preflight.statusCode).toBeGreaterThanOrEqual(400);
  });

  it('stores tokens only as hashes, in a file only its owner can read', () => {
    const token = api.token('hashed', { local: 'viewer' });
    const file = apiPaths(api.dataDir).tokens;
    expect(readFileSync(file, 'utf8')).not.toContain(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(api.tokens.verify(token)?.name).toBe('hashed');
    expect(api.tokens.verify(`${token}x`)).toBeNull();
  });
});
