/**
 * Every refusal is audited in the environment it concerns: a token without the role for a change,
 * an admin of one environment minting tokens for another. Before, only the engine's own refusals
 * reached the audit, so probing with a weak token left no trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST, startTestApi, type TestApi } from './helpers.js';

describe('refusals are audited where they happened', () => {
  let api: TestApi;
  let root: string;
  beforeAll(async () => {
    api = await startTestApi();
    root = api.token('root', { '*': 'admin' });
  });
  afterAll(async () => {
    await api.close();
  });

  const call = (token: string, method: string, url: string, payload?: object) =>
    api.app.inject({
      method: method as 'GET',
      url,
      headers: { host: HOST, authorization: `Bearer ${token}` },
      ...(payload ? { payload } : {}),
    });
  const audit = async (env: string) =>
    (await call(root, 'GET', `/v1/envs/${env}/audit`)).json() as {
      actor: string;
      interface: string;
      action: string;
      args: Record<string, unknown>;
      result: string;
    }[];

  it('a viewer deleting a service: 403, audited in that environment with who and what', async () => {
    const viewer = api.token('intern', { staging: 'viewer' });
    const response = await call(viewer, 'DELETE', '/v1/envs/staging/services/hello');
    expect(response.statusCode).toBe(403);
    const [entry] = (await audit('staging')).filter((e) => e.actor === 'intern');
    expect(entry).toMatchObject({
      interface: 'api',
      action: 'DELETE /v1/envs/:env/services/:service',
      args: { service: 'hello' },
    });
    expect(entry!.result).toBe('refused: token "intern" is viewer in staging; this needs deployer');
    expect((await audit('local')).filter((e) => e.actor === 'intern')).toEqual([]);
  });

  it('an admin of one environment creating an admin token for another: 403, audited in the other', async () => {
    const localAdmin = api.token('local-admin', { local: 'admin' });
    const response = await call(localAdmin, 'POST', '/v1/tokens', {
      name: 'escalate',
      roles: { production: 'admin' },
    });
    expect(response.statusCode).toBe(403);
    const [entry] = (await audit('production')).filter((e) => e.actor === 'local-admin');
    expect(entry).toMatchObject({ interface: 'api', action: 'POST /v1/tokens' });
    expect(entry!.result).toMatch(/^refused: token "local-admin" has no role in production/);
  });

  it('writes nothing for a request without a valid token (there is no one to name)', async () => {
    const before = (await audit('staging')).length;
    const response = await api.app.inject({
      method: 'DELETE',
      url: '/v1/envs/staging/services/hello',
      headers: { host: HOST, authorization: 'Bearer berth_wrong' },
    });
    expect(response.statusCode).toBe(401);
    expect(await audit('staging')).toHaveLength(before);
  });
});
