/**
 * /metrics is scoped: a token sees the series of the environments it may read and none of the
 * others' (what production deploys, how often they fail), like it sees their events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/state/store.js';
import { HOST, startTestApi, type TestApi } from './helpers.js';

function event(env: string, type: string, data: Record<string, unknown>): EventRecord {
  return {
    seq: 1,
    time: new Date().toISOString(),
    env,
    service: 'hello',
    operationId: 'op-1',
    type,
    message: '',
    data,
  };
}

describe('scoped /metrics', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
    for (const env of ['local', 'production']) {
      api.metrics.observeEvent(event(env, 'operation.failed', { kind: 'deploy' }));
      api.metrics.observeEvent(event(env, 'step.succeeded', { step: 'create compute', ms: 120 }));
    }
  });
  afterAll(async () => {
    await api.close();
  });

  const metrics = async (token: string) => {
    const response = await api.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { host: HOST, authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(200);
    return response.body;
  };

  it('shows a viewer of local only local’s series, and no production series at all', async () => {
    const body = await metrics(api.token('dev', { local: 'viewer' }));
    expect(body).toContain('berth_operations_total{env="local",kind="deploy",result="failed"} 1');
    expect(body).toContain(
      'berth_step_duration_seconds_count{env="local",step="create compute",result="succeeded"} 1',
    );
    expect(body).not.toContain('env="production"');
    expect(body).toContain('# TYPE berth_operations_total counter');
  });

  it('shows every environment to a token that may read every one', async () => {
    const body = await metrics(api.token('ops', { '*': 'viewer' }));
    expect(body).toContain('berth_operations_total{env="production",kind="deploy",result="failed"} 1');
    expect(body).toContain('berth_operations_total{env="local",kind="deploy",result="failed"} 1');
  });

  it('refuses a request without a token', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/metrics', headers: { host: HOST } });
    expect(response.statusCode).toBe(401);
  });
});
