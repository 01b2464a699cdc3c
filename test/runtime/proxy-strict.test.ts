/**
 * The proxy refuses requests an attacker shapes to be routed one way and read another, and does
 * not let slow or greedy clients hold its connections: each test is one such attack, over a raw
 * socket, against a real runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import {
  deployService,
  startTestRuntime,
  stopAllTestRuntimes,
  waitFor,
  waitHealthy,
  type TestRuntime,
} from '../helpers/runtime.js';

afterAll(stopAllTestRuntimes);

interface RawConnection {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  closed(): boolean;
}

async function open(port: number): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  let data = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed: () => closed };
}

/** Sends `raw` on a fresh connection and returns the first response's status line once it arrives. */
async function statusOf(port: number, raw: string): Promise<string> {
  const connection = await open(port);
  connection.socket.write(raw);
  const line = await waitFor(
    () => {
      const text = connection.received();
      const end = text.indexOf('\r\n');
      return end > 0 ? text.slice(0, end) : null;
    },
    { timeoutMs: 15_000, what: `an answer to ${JSON.stringify(raw.slice(0, 40))}` },
  );
  connection.socket.destroy();
  return line;
}

describe('a strict proxy', () => {
  let rt: TestRuntime;
  let port: number;
  const HOST = 'hello.strict.localhost';

  beforeAll(async () => {
    rt = await startTestRuntime({
      env: { BERTH_PROXY_HEADERS_TIMEOUT_MS: '1000', BERTH_PROXY_MAX_CONNECTIONS_PER_CLIENT: '8' },
    });
    port = rt.info.proxy.port;
    const { service } = await deployService(rt, { name: 'hello', host: HOST, env: { GREETING: 'owner' } });
    await waitHealthy(rt, service.id, 1);
  }, 60_000);

  it('routes a well-formed request, matching Host case-insensitively and without a trailing dot', async () => {
    for (const host of [HOST, `HELLO.Strict.LOCALHOST.:${port}`, `${HOST}.`]) {
      expect(await statusOf(port, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`)).toBe('HTTP/1.1 200 OK');
    }
  });

  it('answers 400 to two Host headers, whichever order', async () => {
    expect(await statusOf(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nHost: evil.test\r\n\r\n`)).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    expect(await statusOf(port, `GET / HTTP/1.1\r\nHost: evil.test\r\nHost: ${HOST}\r\n\r\n`)).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    // also on the node:http path (HTTP/1.0 requests are handed there)
    expect(await statusOf(port, `GET / HTTP/1.0\r\nHost: ${HOST}\r\nHost: evil.test\r\n\r\n`)).toMatch(
      /^HTTP\/1\.[01] 400 /,
    );
  });

  it('answers 400 to bare-LF line ends instead of waiting for ever', async () => {
    expect(await statusOf(port, `GET / HTTP/1.1\nHost: ${HOST}\n\n`)).toBe('HTTP/1.1 400 Bad Request');
    expect(await statusOf(port, `GET / HTTP/1.1\r\nHost: ${HOST}\nX-A: 1\r\n\r\n`)).toBe(
      'HTTP/1.1 400 Bad Request',
    );
  });

  it('answers 400 to an absolute-form URI whose host is not the Host header, and routes one that is', async () => {
    expect(await statusOf(port, `GET http://evil.test/ HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    expect(await statusOf(port, `GET http://${HOST}@evil.test/ HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    expect(await statusOf(port, `GET http://evil.test/ HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`)).toMatch(
      /^HTTP\/1\.[01] 400 /,
    );
    expect(
      await statusOf(port, `GET http://${HOST.toUpperCase()}:${port}/x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`),
    ).toBe('HTTP/1.1 200 OK');
  });

  it('closes a connection whose request head does not complete before the deadline (408)', async () => {
    const slow = await open(port);
    slow.socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n`);
    const silent = await open(port);
    // a byte now and then does not keep it open
    const drip = setInterval(() => slow.socket.write('X-Slow: 1\r\n'), 200);
    try {
      await waitFor(() => slow.closed() && silent.closed(), {
        timeoutMs: 15_000,
        what: 'both connections to be closed',
      });
    } finally {
      clearInterval(drip);
    }
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('caps the connections one client holds (429 beyond the cap), and frees a place when one closes', async () => {
    const held: RawConnection[] = [];
    try {
      // idle keep-alive connections that completed a request: they stay open (no head deadline)
      for (let i = 0; i < 8; i++) {
        const connection = await open(port);
        connection.socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
        await waitFor(() => connection.received().includes('owner'), { what: 'a response' });
        held.push(connection);
      }
      expect(await statusOf(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)).toBe(
        'HTTP/1.1 429 Too Many Requests',
      );
      held.pop()!.socket.destroy();
      await waitFor(
        async () => (await statusOf(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)) === 'HTTP/1.1 200 OK',
        { timeoutMs: 15_000, what: 'a freed place' },
      );
    } finally {
      for (const connection of held) connection.socket.destroy();
    }
  });
});
