import { connect } from 'node:net';
import { request } from 'node:http';
import { Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  deployService,
  FIXTURE_DIR,
  startTestRuntime,
  stopAllTestRuntimes,
  waitFor,
  waitHealthy,
} from '../helpers/runtime.js';

afterEach(stopAllTestRuntimes);

const fixture = ['node', 'upstream.mjs'];

describe('local runtime proxy', () => {
  it('serves a 2-replica examples/hello service at its host name, round-robin over both replicas', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'hello',
      replicas: 2,
      env: { GREETING: 'hi' },
    });
    await waitHealthy(rt, service.id, 2);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await rt.request(host, '/');
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^hi from replica [01]\n$/);
      seen.add(String(res.headers['x-replica']));
    }
    expect([...seen].sort()).toEqual(['0', '1']);
    // the Host header may carry the port and upper case
    const withPort = await rt.request(`HELLO.test.localhost:${rt.info.proxy.port}`, '/');
    expect(withPort.status).toBe(200);
  });

  it('restarts a SIGKILLed replica and sends it no traffic until it is healthy again', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'slowstart',
      replicas: 2,
      command: fixture,
      cwd: FIXTURE_DIR,
      env: { START_DELAY_MS: '700' },
    });
    await waitHealthy(rt, service.id, 2);
    const before = (await rt.client.get('services', service.id))!.replicaStatus[0]!;
    await rt.client.killReplica(service.id, 0, 'SIGKILL');
    await waitFor(async () => {
      const r = (await rt.client.get('services', service.id))!.replicaStatus[0]!;
      return r.restarts >= 1 && r.state !== 'healthy';
    });
    // while replica 0 restarts (it takes 700 ms to listen), every request goes to replica 1
    for (let i = 0; i < 10; i++) {
      const res = await rt.request(host, '/');
      expect(res.status).toBe(200);
      expect(res.headers['x-replica']).toBe('1');
    }
    const after = await waitHealthy(rt, service.id, 2);
    const r0 = after.replicaStatus[0]!;
    expect(r0.restarts).toBe(1);
    expect(r0.lastExit).toBe('signal SIGKILL');
    expect(r0.pid).not.toBe(before.pid);
    expect(r0.port).toBe(before.port);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(String((await rt.request(host, '/')).headers['x-replica']));
    expect(seen.has('0')).toBe(true);
  });

  it('answers clearly when the service, the route or the DNS record is gone', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, { name: 'gone', replicas: 1 });
    await waitHealthy(rt, service.id, 1);
    expect((await rt.request(host)).status).toBe(200);

    const unknown = await rt.request('nobody.test.localhost');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('berth runtime: no DNS record for "nobody.test.localhost"');

    expect(await rt.client.remove('services', service.id)).toBe(true);
    expect(await rt.client.remove('services', service.id)).toBe(false);
    const noService = await rt.request(host);
    expect(noService.status).toBe(503);
    expect(noService.body).toContain(`berth runtime: no healthy replica for "${host}"`);

    const [route] = await rt.client.list('routes');
    expect(await rt.client.remove('routes', route!.id)).toBe(true);
    const noRoute = await rt.request(host);
    expect(noRoute.status).toBe(404);
    expect(noRoute.body).toContain(`berth runtime: no route for host "${host}"`);
    expect(await rt.client.list('services')).toEqual([]);
  });

  it('503s with the replica states while a service has no healthy replica, and 502 never reaches clients for GETs', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'late',
      replicas: 1,
      command: fixture,
      cwd: FIXTURE_DIR,
      env: { START_DELAY_MS: '1500' },
    });
    const res = await rt.request(host);
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/service late: 1 replicas, states 0=starting/);
    await waitHealthy(rt, service.id, 1);
    expect((await rt.request(host)).status).toBe(200);
  });

  it('passes WebSocket-style Upgrade requests through to the replica', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'ws',
      replicas: 1,
      command: fixture,
      cwd: FIXTURE_DIR,
    });
    await waitHealthy(rt, service.id, 1);
    const socket = connect(rt.info.proxy.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /socket HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    await waitFor(() => received.includes('\r\n\r\n'), { what: 'the 101 answer' });
    expect(received).toMatch(/^HTTP\/1\.1 101 /);
    expect(received).toContain('x-replica: 0');
    received = '';
    socket.write('ping-1');
    await waitFor(() => received === 'ping-1', { what: 'the echo' });
    socket.write('ping-2');
    await waitFor(() => received === 'ping-1ping-2', { what: 'the second echo' });
    socket.destroy();
  });

  it('streams large bodies both ways over kept-alive connections', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'big',
      replicas: 1,
      command: fixture,
      cwd: FIXTURE_DIR,
    });
    await waitHealthy(rt, service.id, 1);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    const call = (path: string, body?: Buffer) =>
      new Promise<{ status: number; bytes: number; sum: number }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: rt.info.proxy.port,
            path,
            method: body ? 'POST' : 'GET',
            headers: { host },
            agent,
          },
          (res) => {
            let bytes = 0;
            let sum = 0;
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              for (let i = 0; i < chunk.length; i += 4096) sum = (sum + chunk[i]!) % 1_000_003;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sum }));
            res.on('error', reject);
          },
        );
        req.on('socket', (s) => s.once('connect', () => ports.add(s.localPort ?? 0)));
        req.on('error', reject);
        if (body) {
          // write in pieces so the body is streamed (chunked), not sent in one go
          for (let off = 0; off < body.length; off += 256 * 1024)
            req.write(body.subarray(off, off + 256 * 1024));
        }
        req.end();
      });
    const big = await call('/big?bytes=33554432');
    expect(big).toMatchObject({ status: 200, bytes: 33554432 });
    const upload = Buffer.alloc(8 * 1024 * 1024, 7);
    const echoed = await call('/echo', upload);
    expect(echoed.status).toBe(200);
    expect(echoed.bytes).toBe(upload.length);
    const again = await call('/');
    expect(again.status).toBe(200);
    expect(ports.size).toBe(1); // one client connection for all three requests
    agent.destroy();
  });
});
