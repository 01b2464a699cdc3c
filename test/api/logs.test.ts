/**
 * A service's log lines over the API (GET /v1/envs/:env/services/:service/logs): what its replicas
 * printed, read from the real local runtime. A viewer sees the service's `env:` values hidden
 * there too, as everywhere else in the API; a deployer sees them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServiceSpec } from '../../src/spec/index.js';
import { HIDDEN_VALUE } from '../../src/api/redact.js';
import { waitFor } from '../helpers/runtime.js';
import { HOST, startTestApi, type TestApi } from './helpers.js';

const VALUE = 'shop-key-7f3a91';

interface Line {
  time: number | null;
  source: string;
  message: string;
}

/** What the replicas printed, without the runtime's own marker lines ("--- berth runtime: ..."). */
function printed(lines: Line[]): Line[] {
  return lines.filter((line) => !line.message.startsWith('--- berth runtime'));
}

describe('logs over the API', () => {
  let api: TestApi;
  let admin: string;
  let viewer: string;
  let dir: string;
  const get = (url: string, token: string) =>
    api.app.inject({ method: 'GET', url, headers: { host: HOST, authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    process.env.BERTH_PROXY_PORT = '0';
    api = await startTestApi();
    admin = api.token('ci', { local: 'admin' });
    viewer = api.token('watcher', { local: 'viewer' });
    dir = mkdtempSync(join(tmpdir(), 'berth-logs-api-'));
    writeFileSync(
      join(dir, 'server.js'),
      "console.log('starting with key ' + process.env.SHOP_KEY);\n" +
        "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, () => console.log('listening'));\n",
    );
    writeFileSync(
      join(dir, 'berth.yaml'),
      `name: shop\nrun:\n  command: [node, server.js]\nreplicas: 2\nhealth:\n  path: /\nenv:\n  SHOP_KEY: ${VALUE}\n`,
    );
    const spec = (await loadServiceSpec(dir, { env: 'local', envNames: ['local', 'staging', 'production'] }))
      .config!;
    const put = await api.app.inject({
      method: 'PUT',
      url: '/v1/envs/local/services/shop',
      headers: { host: HOST, authorization: `Bearer ${admin}` },
      payload: { spec },
    });
    expect(put.statusCode, put.body).toBe(202);
    await waitFor(
      async () => (await get('/v1/envs/local/services/shop', admin)).json().health === 'Healthy',
      { timeoutMs: 30_000, what: 'shop healthy' },
    );
  }, 60_000);

  afterAll(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("returns each replica's lines, oldest first, with the values a deployer may see", async () => {
    const response = await waitFor(
      async () => {
        const answer = await get('/v1/envs/local/services/shop/logs', admin);
        return printed(answer.json().lines).length >= 4 ? answer : null;
      },
      { timeoutMs: 10_000, what: 'both replicas printed' },
    );
    expect(response.statusCode).toBe(200);
    const body = response.json() as { service: string; timed: boolean; lines: Line[] };
    expect(body).toMatchObject({ service: 'shop', timed: false });
    expect(printed(body.lines).map((line) => `${line.source}: ${line.message}`)).toEqual([
      `replica 0: starting with key ${VALUE}`,
      'replica 0: listening',
      `replica 1: starting with key ${VALUE}`,
      'replica 1: listening',
    ]);
    expect(body.lines.every((line) => line.time === null)).toBe(true);
    // At most `limit` lines, shared between the replicas.
    const two = (await get('/v1/envs/local/services/shop/logs?limit=2', admin)).json();
    expect(two.lines.map((l: Line) => `${l.source}: ${l.message}`)).toEqual([
      'replica 0: listening',
      'replica 1: listening',
    ]);
  });

  it('hides the env values from a viewer, wherever a replica printed them', async () => {
    const response = await get('/v1/envs/local/services/shop/logs', viewer);
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain(VALUE);
    expect(printed(response.json().lines)[0]!.message).toBe(`starting with key ${HIDDEN_VALUE}`);
  });

  it('lets a viewer open the environment: only variable values are hidden, not the environment', async () => {
    const response = await get('/v1/envs/local', viewer);
    expect(response.statusCode).toBe(200);
    expect(response.json().env).toMatchObject({ name: 'local', provider: 'local', protected: false });
  });

  it('answers an unknown service with 404, a bad limit with 400, and no token with 401', async () => {
    const missing = await get('/v1/envs/local/services/nosuch/logs', viewer);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'not_found', message: 'nosuch is not deployed in local' });
    for (const query of ['limit=0', 'limit=10001', 'limit=many', 'since=yesterday', 'follow=1']) {
      const bad = await get(`/v1/envs/local/services/shop/logs?${query}`, viewer);
      expect(bad.statusCode, query).toBe(400);
    }
    const anonymous = await api.app.inject({
      method: 'GET',
      url: '/v1/envs/local/services/shop/logs',
      headers: { host: HOST },
    });
    expect(anonymous.statusCode).toBe(401);
  });

  it('is in the OpenAPI document, with its query and answer', async () => {
    const doc = (
      await api.app.inject({ method: 'GET', url: '/openapi.json', headers: { host: HOST } })
    ).json();
    const route = doc.paths['/v1/envs/{env}/services/{service}/logs'].get;
    expect(route.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['env', 'service', 'since', 'limit']),
    );
    expect(JSON.stringify(route.responses['200'])).toContain('ServiceLogs');
  });
});
