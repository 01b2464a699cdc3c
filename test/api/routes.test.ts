import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadServiceSpec } from '../../src/spec/index.js';
import { serviceSpecSchema } from '../../src/spec/service-spec-schema.js';
import type { ServiceSpec } from '../../src/spec/types.js';
import { HOST, startTestApi, type TestApi } from './helpers.js';

const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url));

async function helloSpec(): Promise<ServiceSpec> {
  const loaded = await loadServiceSpec(HELLO, { env: 'local', envNames: ['local', 'staging', 'production'] });
  return loaded.config!;
}

describe('API routes without a runtime', () => {
  let api: TestApi;
  let admin: string;
  beforeAll(async () => {
    api = await startTestApi();
    admin = api.token('admin', { '*': 'admin' });
  });
  afterAll(async () => {
    await api.close();
  });

  const call = (method: string, url: string, payload?: unknown) =>
    api.app.inject({
      method: method as 'GET',
      url,
      headers: { host: HOST, authorization: `Bearer ${admin}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  it('serves an OpenAPI document generated from the route declarations', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/openapi.json', headers: { host: HOST } });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toBe('3.1.0');
    for (const route of api.definitions) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path}`).toBeDefined();
    }
    const spec = doc.components.schemas.ServiceSpec;
    expect(spec.required).toEqual(expect.arrayContaining(['name', 'port', 'replicas', 'health']));
    expect(doc.components.schemas.Error.properties.exitCode).toBeDefined();
    const put = doc.paths['/v1/envs/{env}/services/{service}'].put;
    expect(put.requestBody.content['application/json'].schema.properties.spec.$ref).toBe(
      '#/components/schemas/ServiceSpec',
    );
  });

  it('the ServiceSpec schema accepts what normalize produces and refuses what it would not', async () => {
    const spec = await helloSpec();
    expect(serviceSpecSchema.safeParse(spec).success).toBe(true);
    const bad = serviceSpecSchema.safeParse({
      ...spec,
      name: 'Hello!',
      replicas: 101,
      run: { command: [], cwd: 'relative' },
      env: { PORT: '1' },
      health: { ...spec.health, timeoutMs: spec.health.intervalMs },
    });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining(['name', 'replicas', 'run.command', 'run.cwd', 'env.PORT', 'health.timeoutMs']),
    );
  });

  it('answers a bad spec with 400 and every problem, before touching anything', async () => {
    const spec = await helloSpec();
    const response = await call('PUT', '/v1/envs/local/services/hello', {
      spec: { ...spec, port: 'eighty', replicas: -1 },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body).toMatchObject({ error: 'invalid_input', exitCode: 2 });
    expect(body.details.join('\n')).toMatch(/spec\.port/);
    expect(body.details.join('\n')).toMatch(/spec\.replicas/);

    // a valid spec and a valid URL that disagree: a conflict, not a malformed request
    const renamed = await call('PUT', '/v1/envs/local/services/other', { spec });
    expect(renamed.statusCode).toBe(409);
    expect(renamed.json().message).toContain('"hello", not "other"');

    // fields each valid but disagreeing (no JSON Schema can compare two fields): 422, every one named
    const disagreeing = await call('PUT', '/v1/envs/local/services/hello', {
      spec: {
        ...spec,
        health: { ...spec.health, timeoutMs: spec.health.intervalMs },
        env: { LOG_LEVEL: 'debug' },
        secrets: { LOG_LEVEL: 'log-level' },
      },
    });
    expect(disagreeing.statusCode).toBe(422);
    expect(disagreeing.json()).toMatchObject({ error: 'fields_disagree', exitCode: 2 });
    expect(disagreeing.json().details).toEqual([
      'spec.health.timeoutMs: timeoutMs must be shorter than intervalMs',
      'spec.secrets.LOG_LEVEL: LOG_LEVEL is set in env too',
    ]);
  });

  it('answers an unknown environment or operation with 404 and a hint', async () => {
    const env = await call('GET', '/v1/envs/nope/operations');
    expect(env.statusCode).toBe(404);
    expect(env.json()).toMatchObject({ error: 'unknown_environment' });
    expect(env.json().hint).toContain('local');
    const op = await call('GET', '/v1/envs/local/operations/op-123');
    expect(op.statusCode).toBe(404);
    expect(op.json()).toMatchObject({ error: 'not_found', exitCode: 2 });
    const history = await call('GET', '/v1/envs/local/services/ghost/history');
    expect(history.statusCode).toBe(404);
  });

  it('serves Prometheus metrics to a token holder', async () => {
    await call('GET', '/v1/envs');
    const metrics = await call('GET', '/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain(
      'berth_api_request_duration_seconds_count{method="GET",route="/v1/envs",status="200"}',
    );
    expect(metrics.body).toContain('# TYPE berth_operations_total counter');
    expect(metrics.body).toContain('# TYPE berth_step_duration_seconds histogram');
  });

  it('creates tokens for admins and never lists their secrets', async () => {
    const created = await call('POST', '/v1/tokens', { name: 'ci', roles: { staging: 'deployer' } });
    expect(created.statusCode).toBe(201);
    const { token } = created.json();
    expect(api.tokens.verify(token)?.roles).toEqual({ staging: 'deployer' });
    const listed = await call('GET', '/v1/tokens');
    expect(JSON.stringify(listed.json())).not.toContain(token);
    expect(listed.json().map((t: { name: string }) => t.name)).toContain('ci');
    const unknownEnv = await call('POST', '/v1/tokens', { name: 'x', roles: { nowhere: 'viewer' } });
    expect(unknownEnv.statusCode).toBe(404);
  });
});
