import { statSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TransientError, UserError } from '../../src/core/errors.js';
import { RuntimeClient } from '../../src/runtime/client.js';
import { runtimePaths } from '../../src/runtime/paths.js';
import {
  deployService,
  HELLO_DIR,
  startTestRuntime,
  stopAllTestRuntimes,
  waitFor,
  waitHealthy,
} from '../helpers/runtime.js';

afterEach(stopAllTestRuntimes);

describe('local runtime console', () => {
  it('answers ping without a token, and 401 with a clear message without one', async () => {
    const rt = await startTestRuntime();
    const ping = await fetch(`${rt.info.consoleUrl}/v1/ping`);
    expect(await ping.json()).toEqual({ ok: true });
    const bare = await fetch(`${rt.info.consoleUrl}/v1/services`);
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { message: string }).message).toContain('console.token');
    const wrong = new RuntimeClient({ url: rt.info.consoleUrl, token: 'nope' });
    await expect(wrong.list('services')).rejects.toThrow(UserError);
    await expect(wrong.list('services')).rejects.toThrow(/refused the console token/);
    const tokenFile = runtimePaths(rt.dataDir).token;
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
  });

  it('describes itself: a stable instance id, the proxy and the DNS target', async () => {
    const rt = await startTestRuntime();
    expect(rt.info.instanceId).toMatch(/^rtm-[0-9a-f]{16}$/);
    expect(rt.info.proxyHost).toBe('proxy.berth.localhost');
    expect(rt.info.proxy.port).toBeGreaterThan(0);
    const discovery = JSON.parse(readFileSync(runtimePaths(rt.dataDir).discovery, 'utf8'));
    expect(discovery).toMatchObject({
      pid: rt.pid,
      instanceId: rt.info.instanceId,
      proxyPort: rt.info.proxy.port,
    });
  });

  it('rejects bad input with 400 and clear messages, and duplicate service names with 409', async () => {
    const rt = await startTestRuntime();
    const bad = await fetch(`${rt.info.consoleUrl}/v1/services`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${readFileSync(runtimePaths(rt.dataDir).token, 'utf8').trim()}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'Bad Name', command: [], cwd: 'relative', replicas: -1 }),
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: string; message: string };
    expect(body.error).toBe('invalid_input');
    expect(body.message).toMatch(/name: must be 1-100/);
    expect(body.message).toMatch(/command: must name a program/);
    expect(body.message).toMatch(/cwd: must be an absolute path/);
    expect(body.message).toMatch(/replicas/);

    await expect(
      rt.client.create('routes', { host: 'x.test.localhost', serviceId: 'svc-missing', tags: {} }),
    ).rejects.toThrow(/no service with id "svc-missing"/);
    await expect(
      rt.client.create('dns', {
        name: 'Not A Host',
        type: 'CNAME',
        target: 'proxy.berth.localhost',
        tags: {},
      }),
    ).rejects.toThrow(/name: must be a lower-case host name/);

    await deployService(rt, { name: 'dup', replicas: 0 });
    const error = await rt.client
      .create('services', {
        name: 'dup',
        command: ['node'],
        cwd: HELLO_DIR,
        env: {},
        replicas: 0,
        health: { path: '/', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 2 },
        tags: {},
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('conflict');
    expect((error as Error).message).toMatch(/a service named "dup" already exists/);
    expect(await rt.client.get('services', 'svc-000000000000')).toBeNull();
    expect(await rt.client.update('routes', 'rt-000000000000', { tags: {} })).toBeNull();
  });

  it('filters every kind by tags (ANDed) and gives ids their prefixes', async () => {
    const rt = await startTestRuntime();
    const a = await deployService(rt, {
      name: 'a',
      replicas: 0,
      tags: { 'berth:env': 'local', 'berth:service': 'a' },
    });
    await deployService(rt, { name: 'b', replicas: 0, tags: { 'berth:env': 'local', 'berth:service': 'b' } });
    await deployService(rt, {
      name: 'c',
      replicas: 0,
      tags: { 'berth:env': 'staging', 'berth:service': 'a' },
    });
    const hc = await rt.client.create('healthchecks', {
      host: a.host,
      path: '/healthz',
      intervalMs: 1000,
      failureThreshold: 2,
      tags: { 'berth:env': 'local' },
    });
    expect(a.service.id).toMatch(/^svc-/);
    expect(hc.id).toMatch(/^hc-/);
    expect((await rt.client.list('routes'))[0]!.id).toMatch(/^rt-/);
    expect((await rt.client.list('dns'))[0]!.id).toMatch(/^dns-/);
    expect((await rt.client.list('services', { 'berth:env': 'local' })).map((s) => s.name).sort()).toEqual([
      'a',
      'b',
    ]);
    const both = await rt.client.list('services', { 'berth:env': 'local', 'berth:service': 'a' });
    expect(both.map((s) => s.name)).toEqual(['a']);
    expect(await rt.client.list('routes', { 'berth:service': 'a' })).toHaveLength(2);
    expect(await rt.client.list('healthchecks', { 'berth:env': 'staging' })).toHaveLength(0);
    expect(await rt.client.list('dns', { nope: 'x' })).toEqual([]);
  });

  it('scales replicas with PATCH, reports replicaStatus, serves logs, and checks DNS health through the proxy', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, { name: 'scale', replicas: 1 });
    await waitHealthy(rt, service.id, 1);
    const hc = await rt.client.create('healthchecks', {
      host,
      path: '/healthz',
      intervalMs: 100,
      failureThreshold: 2,
      tags: {},
    });
    expect(hc.status).toBe('unknown');
    await waitFor(async () => (await rt.client.get('healthchecks', hc.id))?.status === 'healthy', {
      what: 'hc healthy',
    });

    const scaled = await rt.client.update('services', service.id, { replicas: 3 });
    expect(scaled!.replicas).toBe(3);
    const three = await waitHealthy(rt, service.id, 3);
    expect(three.replicaStatus.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(new Set(three.replicaStatus.map((r) => r.port)).size).toBe(3);
    await rt.client.update('services', service.id, { replicas: 1 });
    await waitFor(async () => (await rt.client.get('services', service.id))!.replicaStatus.length === 1);

    const logs = await rt.client.logs(service.id, 5);
    expect(logs[0]!.index).toBe(0);
    expect(logs[0]!.lines.join('\n')).toContain('listening on 127.0.0.1');

    await rt.client.remove('services', service.id);
    await waitFor(async () => (await rt.client.get('healthchecks', hc.id))?.status === 'unhealthy', {
      what: 'hc unhealthy',
    });
    const failed = await rt.client.get('healthchecks', hc.id);
    expect(failed!.lastError).toMatch(/HTTP 503/);
    expect(failed!.lastCheckedAt).not.toBeNull();
  });

  it('restarts replicas on the same ports when PATCH changes the command or env', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'patchy',
      replicas: 1,
      env: { GREETING: 'one' },
    });
    const before = await waitHealthy(rt, service.id, 1);
    expect((await rt.request(host)).body).toBe('one from replica 0\n');
    await rt.client.update('services', service.id, { env: { GREETING: 'two' } });
    await waitFor(async () => (await rt.request(host)).body === 'two from replica 0\n', {
      what: 'the new env',
    });
    const after = await waitHealthy(rt, service.id, 1);
    expect(after.replicaStatus[0]!.port).toBe(before.replicaStatus[0]!.port);
    expect(after.replicaStatus[0]!.pid).not.toBe(before.replicaStatus[0]!.pid);
  });

  it('records a command that cannot be found as the last exit', async () => {
    const rt = await startTestRuntime();
    const service = await rt.client.create('services', {
      name: 'missing-cmd',
      command: ['definitely-not-a-command-xyz'],
      cwd: HELLO_DIR,
      env: {},
      replicas: 1,
      health: { path: '/', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 1, unhealthyThreshold: 2 },
      tags: {},
    });
    const crashed = await waitFor(async () => {
      const s = await rt.client.get('services', service.id);
      return s?.replicaStatus[0]?.lastExit ? s : null;
    });
    expect(crashed.replicaStatus[0]!.lastExit).toMatch(/command not found: "definitely-not-a-command-xyz"/);
  });

  it('throws TransientError when the runtime is not reachable', async () => {
    const client = new RuntimeClient({ url: 'http://127.0.0.1:9', token: 'x' });
    const error = await client.info().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe('local runtime not reachable at http://127.0.0.1:9');
  });
});
