import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
/**
 * Dashboard sessions: a one-time code or a pasted token is exchanged by POST for a session
 * cookie (HttpOnly, SameSite=Strict); a code works once and for 2 minutes; the cookie acts with
 * its token's roles; a change made with the cookie needs the CSRF header and the API's origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_TTL_MS, SessionStore } from '../../src/api/sessions.js';
import { TokenStore } from '../../src/api/tokens.js';
import { HOST, startTestApi, type TestApi } from './helpers.js';

const CSRF = { 'x-berth-csrf': '1' };

describe('dashboard sessions', () => {
  let api: TestApi;
  let admin: string;
  beforeAll(async () => {
    api = await startTestApi();
    admin = api.token('admin-all', { '*': 'admin' });
  });
  afterAll(async () => {
    await api.close();
  });

  const inject = (method: string, url: string, headers: Record<string, string> = {}, payload?: unknown) =>
    api.app.inject({
      method: method as 'GET',
      url,
      headers: { host: HOST, ...headers },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  async function mintCode(env?: string): Promise<{ code: string; link: string }> {
    const response = await inject(
      'POST',
      '/v1/session/codes',
      { authorization: `Bearer ${admin}` },
      env ? { env } : {},
    );
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  function cookieOf(setCookie: string | string[] | undefined): string {
    const value = Array.isArray(setCookie) ? setCookie[0]! : setCookie!;
    return value.split(';')[0]!;
  }

  it('exchanges a one-time code for an HttpOnly, SameSite=Strict cookie, once', async () => {
    const { code, link } = await mintCode('staging');
    // The code travels in the fragment, which browsers never send to the server.
    expect(link).toBe(`http://${HOST}/#code=${code}&env=staging`);
    const exchanged = await inject('POST', '/v1/session/exchange', CSRF, { code });
    expect(exchanged.statusCode, exchanged.body).toBe(200);
    expect(exchanged.json()).toMatchObject({ actor: 'admin-all', via: 'session' });
    const setCookie = String(exchanged.headers['set-cookie']);
    expect(setCookie).toMatch(/^berth_session_80=[\w-]{40,};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    expect(setCookie).not.toContain(code);

    const cookie = cookieOf(exchanged.headers['set-cookie']);
    const session = await inject('GET', '/v1/session', { cookie });
    expect(session.statusCode).toBe(200);
    expect(session.json()).toMatchObject({ actor: 'admin-all', via: 'session', roles: { '*': 'admin' } });
    const envs = await inject('GET', '/v1/envs', { cookie });
    expect(envs.statusCode).toBe(200);

    // The same code again: refused, and no cookie.
    const again = await inject('POST', '/v1/session/exchange', CSRF, { code });
    expect(again.statusCode).toBe(401);
    expect(again.json()).toMatchObject({ error: 'invalid_code' });
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a code after 2 minutes', () => {
    let now = 1_000_000;
    const tokens = TokenStore.forDataDir(api.dataDir);
    const sessions = new SessionStore(tokens, () => now);
    const principal = tokens.verify(admin)!;
    const fresh = sessions.createCode(principal);
    const stale = sessions.createCode(principal);
    now += CODE_TTL_MS - 1;
    expect(sessions.exchangeCode(fresh.code)).not.toBeNull();
    now += 1;
    expect(sessions.exchangeCode(stale.code)).toBeNull();
    expect(sessions.exchangeCode('not-a-code')).toBeNull();
  });

  it('stores codes and sessions only as hashes', () => {
    const tokens = TokenStore.forDataDir(api.dataDir);
    const sessions = new SessionStore(tokens);
    const { code } = sessions.createCode(tokens.verify(admin)!);
    const made = sessions.exchangeCode(code)!;
    const dump = JSON.stringify(
      [...Object.values(sessions)].map((value) => (value instanceof Map ? [...value] : null)),
    );
    expect(dump).not.toContain(code);
    expect(dump).not.toContain(made.session);
  });

  it('peers of one data dir share codes and sessions (a code once across all), as hashes only', () => {
    const tokens = TokenStore.forDataDir(api.dataDir);
    const file = join(api.dataDir, 'sessions-shared.json');
    const first = new SessionStore(tokens, Date.now, file);
    const second = new SessionStore(tokens, Date.now, file);
    const { code } = first.createCode(tokens.verify(admin)!);
    const made = second.exchangeCode(code)!;
    expect(made).not.toBeNull();
    expect(first.exchangeCode(code)).toBeNull(); // used up on the other peer
    expect(first.verify(made.session)?.principal.id).toBe(made.info.principal.id);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(code);
    expect(text).not.toContain(made.session);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    first.revoke(made.session);
    expect(second.verify(made.session)).toBeNull();
    // A restarted control plane keeps everyone signed in.
    const { session } = first.createSession(tokens.verify(admin)!);
    expect(new SessionStore(tokens, Date.now, file).verify(session)).not.toBeNull();
  });

  it('signs in with a pasted token (POST body), with that token’s roles', async () => {
    const viewer = api.token('viewer-staging', { staging: 'viewer' });
    const bad = await inject('POST', '/v1/session/exchange', CSRF, { token: 'berth_nope' });
    expect(bad.statusCode).toBe(401);
    const exchanged = await inject('POST', '/v1/session/exchange', CSRF, { token: viewer });
    expect(exchanged.statusCode).toBe(200);
    const cookie = cookieOf(exchanged.headers['set-cookie']);
    expect((await inject('GET', '/v1/envs/staging/operations', { cookie })).statusCode).toBe(200);
    expect((await inject('GET', '/v1/envs/production/operations', { cookie })).statusCode).toBe(403);
    const mutation = await inject('POST', '/v1/envs/staging/services/hello/cancel', { cookie, ...CSRF });
    expect(mutation.statusCode).toBe(403);
    expect(mutation.json()).toMatchObject({ error: 'forbidden' });
    // A viewer cannot mint sign-in codes.
    expect((await inject('POST', '/v1/session/codes', { cookie, ...CSRF }, {})).statusCode).toBe(403);
  });

  it('needs the CSRF header (and the API’s own origin) for changes made with the cookie', async () => {
    const { code } = await mintCode();
    const noHeader = await inject('POST', '/v1/session/exchange', {}, { code });
    expect(noHeader.statusCode).toBe(403);
    expect(noHeader.json()).toMatchObject({ error: 'csrf' });
    const exchanged = await inject('POST', '/v1/session/exchange', CSRF, { code: (await mintCode()).code });
    const cookie = cookieOf(exchanged.headers['set-cookie']);

    // Creating a token: a change that needs no provider.
    const tokenBody = (name: string) => ({ name, roles: { staging: 'viewer' } });
    const forged = await inject('POST', '/v1/tokens', { cookie }, tokenBody('forged'));
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toMatchObject({ error: 'csrf' });
    const otherOrigin = await inject(
      'POST',
      '/v1/tokens',
      { cookie, ...CSRF, origin: 'http://evil.example' },
      tokenBody('other-origin'),
    );
    expect(otherOrigin.statusCode).toBe(403);
    expect(otherOrigin.json()).toMatchObject({ error: 'csrf' });
    const allowed = await inject(
      'POST',
      '/v1/tokens',
      { cookie, ...CSRF, origin: `http://${HOST}` },
      tokenBody('from-dashboard'),
    );
    expect(allowed.statusCode, allowed.body).toBe(201);
    // Reads need no header; a bearer token needs none either.
    expect((await inject('GET', '/v1/envs/local/operations', { cookie })).statusCode).toBe(200);
    const bearer = await inject(
      'POST',
      '/v1/tokens',
      { authorization: `Bearer ${admin}` },
      tokenBody('bearer'),
    );
    expect(bearer.statusCode).toBe(201);
  });

  it('signs out: the cookie stops working and is removed', async () => {
    const { code } = await mintCode();
    const exchanged = await inject('POST', '/v1/session/exchange', CSRF, { code });
    const cookie = cookieOf(exchanged.headers['set-cookie']);
    expect((await inject('DELETE', '/v1/session', { cookie })).statusCode).toBe(403); // no CSRF header
    const out = await inject('DELETE', '/v1/session', { cookie, ...CSRF });
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    const after = await inject('GET', '/v1/session', { cookie });
    expect(after.statusCode).toBe(401);
    expect(after.json().message).toContain('sign in again');
  });

  it('ends sessions when their token is revoked', async () => {
    const temp = api.token('temp-admin', { '*': 'admin' });
    const exchanged = await inject('POST', '/v1/session/exchange', CSRF, { token: temp });
    const cookie = cookieOf(exchanged.headers['set-cookie']);
    expect((await inject('GET', '/v1/session', { cookie })).statusCode).toBe(200);
    api.tokens.remove('temp-admin');
    expect((await inject('GET', '/v1/session', { cookie })).statusCode).toBe(401);
  });

  it('serves the dashboard page without auth, with a CSP that allows nothing from elsewhere', async () => {
    const page = await inject('GET', '/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
    expect((await inject('GET', '/assets/..%2Fapi-token.js')).statusCode).toBe(404);
  });

  it('exports the same timeline Markdown as berth timeline', async () => {
    const since = '2026-01-01T00:00:00.000Z';
    const until = '2026-01-02T00:00:00.000Z';
    const response = await inject('GET', `/v1/envs/local/timeline?since=${since}&until=${until}`, {
      authorization: `Bearer ${admin}`,
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().markdown).toBe(
      `## Timeline: local, ${since} to ${until} (UTC)\n\n| Time (UTC) | Event |\n| --- | --- |\n| - | nothing happened in this window |`,
    );
  });
});
