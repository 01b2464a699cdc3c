/** Hostname theft over the API: refused with 409 and the CLI's message, audited, nothing created. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadServiceSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/types.js';
import { HOST, startTestApi, type TestApi } from './helpers.js';

const HELLO = fileURLToPath(new URL('../../examples/hello', import.meta.url));

describe('hostname ownership over the API', () => {
  let api: TestApi;
  let token: string;
  let spec: ServiceSpec;
  beforeAll(async () => {
    // the runtime this API starts takes any free proxy port (4080 may be another runtime's)
    process.env.BERTH_PROXY_PORT = '0';
    api = await startTestApi();
    // an admin: choosing what runs locally needs admin, and even an admin cannot take a name
    token = api.token('ci', { local: 'admin' });
    spec = (await loadServiceSpec(HELLO, { env: 'local', envNames: ['local', 'staging', 'production'] }))
      .config!;
  });
  afterAll(async () => {
    await api.close();
  });

  it('refuses a token claiming another environment’s name with 409 naming the owner, and audits it', async () => {
    const thief = { ...spec, name: 'thief', domains: ['hello.production.localhost'] };
    const response = await api.app.inject({
      method: 'PUT',
      url: '/v1/envs/local/services/thief',
      headers: { host: HOST, authorization: `Bearer ${token}` },
      payload: { spec: thief },
    });
    expect(response.statusCode, response.body).toBe(409);
    const body = response.json();
    expect(body).toMatchObject({ error: 'hostname_taken', exitCode: 2 });
    expect(body.message).toBe(
      'thief cannot use hello.production.localhost: it is reserved for service hello in production (a <service>.<env>.<domain> name and every name under it belong to that service)',
    );
    const audit = await api.app.inject({
      method: 'GET',
      url: '/v1/envs/local/audit',
      headers: { host: HOST, authorization: `Bearer ${api.token('root', { '*': 'admin' })}` },
    });
    const entries = audit.json() as { actor: string; interface: string; result: string }[];
    expect(entries.at(-1)).toMatchObject({ actor: 'ci', interface: 'api' });
    expect(entries.at(-1)!.result).toMatch(
      /^refused: thief cannot use hello\.production\.localhost: it is reserved/,
    );
    const services = await api.app.inject({
      method: 'GET',
      url: '/v1/envs/local/services',
      headers: { host: HOST, authorization: `Bearer ${token}` },
    });
    expect(services.json()).toEqual([]);
  });
});
