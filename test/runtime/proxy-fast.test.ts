// The proxy's raw-socket fast path (src/runtime/proxy-fast.ts): per-request routing on kept-alive
// connections, framing, pipelining, hand-off to node:http mid-connection, and a zero-error switch.
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  deployService,
  FIXTURE_DIR,
  startTestRuntime,
  stopAllTestRuntimes,
  waitFor,
  waitHealthy,
  type TestRuntime,
} from '../helpers/runtime.js';

afterEach(stopAllTestRuntimes);

const fixture = ['node', 'upstream.mjs'];

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  localPort: number;
}

/** A request over a kept-alive agent (so that connections are reused). */
function call(
  rt: TestRuntime,
  agent: Agent,
  host: string,
  path = '/',
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: rt.info.proxy.port,
        path,
        method: init.method ?? 'GET',
        headers: { host, ...init.headers },
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
            localPort: req.socket?.localPort ?? 0,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

/** A raw client connection that collects everything it receives. */
async function raw(rt: TestRuntime): Promise<{ socket: Socket; received: () => string; reset: () => void }> {
  const socket = connect(rt.info.proxy.port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, received: () => text, reset: () => (text = '') };
}

describe('local runtime proxy: fast path', () => {
  it('routes every request on one kept-alive connection: round-robin, x-forwarded-*, error answers', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'rr',
      replicas: 2,
      command: fixture,
      cwd: FIXTURE_DIR,
    });
    await waitHealthy(rt, service.id, 2);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const replicas: string[] = [];
    const ports = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const res = await call(rt, agent, host, '/', { headers: { 'x-forwarded-for': '10.0.0.1' } });
      expect(res.status).toBe(200);
      expect(res.headers['x-forwarded-for-seen']).toBe('10.0.0.1, 127.0.0.1');
      expect(res.headers['x-forwarded-host-seen']).toBe(host);
      replicas.push(String(res.headers['x-replica']));
      ports.add(res.localPort);
    }
    expect(ports.size).toBe(1);
    expect(new Set(replicas)).toEqual(new Set(['0', '1']));
    // a Host with the port and upper case on the same connection
    const withPort = await call(rt, agent, `RR.test.localhost:${rt.info.proxy.port}`);
    expect(withPort.status).toBe(200);
    // the 404 of an unknown host (answered by the node:http path), then a good host again
    const unknown = await call(rt, agent, 'nobody.test.localhost');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('berth runtime: no DNS record for "nobody.test.localhost"');
    expect((await call(rt, agent, host)).status).toBe(200);
    agent.destroy();
  });

  it('answers pipelined requests in order, and hands an Upgrade after a request to node:http', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, {
      name: 'pipe',
      replicas: 1,
      command: fixture,
      cwd: FIXTURE_DIR,
    });
    await waitHealthy(rt, service.id, 1);
    const c = await raw(rt);
    c.socket.write(
      `GET /slow?ms=150 HTTP/1.1\r\nHost: ${host}\r\n\r\nHEAD /a HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
        `GET /a HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
        `POST /echo HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\n\r\nhello` +
        `POST /echo HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`,
    );
    await waitFor(
      () => (c.received().match(/HTTP\/1\.1 200/g) ?? []).length === 5 && c.received().endsWith('0\r\n\r\n'),
      { what: 'five responses' },
    );
    const text = c.received();
    expect(text.indexOf('slow from replica 0')).toBeLessThan(text.indexOf('hello from replica 0'));
    expect(text.match(/hello from replica 0/g)).toHaveLength(1); // not for the HEAD
    expect(text).toContain('hello');
    expect(text).toMatch(/\r\n\r\n(5\r\nhello\r\n0\r\n\r\n|hello)/);
    expect(text).toMatch(/abc/);
    // the same connection now upgrades
    c.reset();
    c.socket.write(`GET /socket HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    await waitFor(() => c.received().includes('\r\n\r\n'), { what: 'the 101 answer' });
    expect(c.received()).toMatch(/^HTTP\/1\.1 101 /);
    c.reset();
    c.socket.write('ping');
    await waitFor(() => c.received() === 'ping', { what: 'the echo' });
    c.socket.destroy();
  });

  it('keeps a client looping on the URL error-free while the route switches services and the old one is deleted', async () => {
    const rt = await startTestRuntime();
    const blue = await deployService(rt, {
      name: 'blue',
      replicas: 2,
      env: { GREETING: 'blue' },
    });
    await waitHealthy(rt, blue.service.id, 2);
    const green = await rt.client.create('services', {
      name: 'green',
      command: ['node', 'server.js'],
      cwd: blue.service.cwd,
      env: { GREETING: 'green' },
      replicas: 2,
      health: blue.service.health,
      tags: {},
    });
    await waitHealthy(rt, green.id, 2);

    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const failures: string[] = [];
    const greetings: string[] = [];
    let stop = false;
    const loop = async () => {
      while (!stop) {
        try {
          const res = await call(rt, agent, blue.host, '/');
          if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
          else greetings.push(res.body.split(' ')[0]!);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const loops = [loop(), loop(), loop()];
    await waitFor(() => greetings.length > 50, { what: 'traffic to blue' });
    const [route] = await rt.client.list('routes');
    await rt.client.update('routes', route!.id, { serviceId: green.id });
    await rt.client.remove('services', blue.service.id);
    // blue drains (100 ms in tests), gets SIGTERM and closes its idle connections
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const switched = greetings.length;
    await waitFor(() => greetings.length > switched + 50, { what: 'traffic after the switch' });
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    expect(failures).toEqual([]);
    expect(greetings).toContain('blue');
    expect(greetings.slice(switched)).not.toContain('blue');
    expect(greetings.at(-1)).toBe('green');
  });
});
