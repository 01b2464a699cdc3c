/** The API contract at its edges: undeclared methods, and the OpenAPI schema as strict as the validation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadServiceSpec } from '../../src/spec/index.js';
import { HOST, startTestApi, type TestApi } from './helpers.js';

const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url));

describe('API contract', () => {
  let api: TestApi;
  let token: string;
  beforeAll(async () => {
    api = await startTestApi();
    token = api.token('root', { '*': 'admin' });
  });
  afterAll(async () => {
    await api.close();
  });
  const call = (method: string, url: string) =>
    api.app.inject({
      method: method as 'GET',
      url,
      headers: { host: HOST, authorization: `Bearer ${token}` },
    });

  it('answers an undeclared method on a declared path with 405 and Allow, an unknown path with 404', async () => {
    const patch = await call('PATCH', '/v1/envs/local/services/hello');
    expect(patch.statusCode).toBe(405);
    expect(patch.headers.allow).toBe('GET, HEAD, PUT, DELETE');
    expect(patch.json()).toMatchObject({ error: 'method_not_allowed', exitCode: 2 });
    expect((await call('DELETE', '/metrics')).headers.allow).toBe('GET, HEAD');
    expect((await call('POST', '/v1/envs')).statusCode).toBe(405);
    expect((await call('PATCH', '/v1/nothing-here')).statusCode).toBe(404);
  });

  it('answers a spec whose name differs from the URL with 409: each part is valid, together they conflict', async () => {
    const spec = (
      await loadServiceSpec(HELLO, { env: 'local', envNames: ['local', 'staging', 'production'] })
    ).config!;
    const response = await api.app.inject({
      method: 'PUT',
      url: '/v1/envs/local/services/other',
      headers: { host: HOST, authorization: `Bearer ${token}` },
      payload: { spec },
    });
    expect(response.statusCode, response.body).toBe(409);
    expect(response.json()).toMatchObject({
      error: 'name_mismatch',
      message: 'the spec is named "hello", not "other"',
      hint: 'PUT it to /v1/envs/local/services/hello',
      exitCode: 2,
    });
  });

  it('states in the OpenAPI document what the validation refuses', async () => {
    const doc = (await call('GET', '/openapi.json')).json();
    const spec = doc.components.schemas.ServiceSpec;
    expect(spec.anyOf).toEqual([{ required: ['run'] }, { required: ['image'] }]);
    expect(spec.properties.env.propertyNames.pattern).toContain('PORT');
    expect(spec.then.properties.env.propertyNames.pattern).toContain('LD_');
    expect(spec.properties.run.properties.cwd).toMatchObject({ minLength: 1, pattern: '^\\/[^\\x00]*$' });
    expect(spec.properties.domains.uniqueItems).toBe(true);
    const token = doc.paths['/v1/tokens'].post.requestBody.content['application/json'].schema;
    expect(token.properties.roles.minProperties).toBe(1);
    const param = doc.paths['/v1/envs/{env}'].get.parameters[0];
    expect(param.schema).toMatchObject({ maxLength: 100 });
  });
});
