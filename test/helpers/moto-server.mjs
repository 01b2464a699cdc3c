// Starts a real moto server (pip install "moto[server]") on a free loopback port: shared by the
// AWS tests (test/helpers/moto.ts) and the AWS benchmark (bench/aws-sweep.mjs). Plain JavaScript
// so that a benchmark run with node alone can use it; types in moto-server.d.mts.
import { spawn } from 'node:child_process';
import net from 'node:net';

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * moto's own `moto_server` command, except that requests are served one at a time. AWS applies
 * each conditional write and transaction atomically; moto's threaded server checks conditions and
 * writes without a lock, so two concurrent requests can both pass a condition that only one may.
 * The app, the routing and the port are moto_server's; only the lock is added.
 */
export const MOTO_LAUNCHER = `
import os, sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(host, port, serialized, threaded=True)
`;

/**
 * Starts moto on a free loopback port and waits until it answers. `stop()` ends it (SIGTERM, then
 * SIGKILL after 3 s); `reset()` wipes every account's state.
 */
export async function startMotoServer(options = {}) {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const python = options.python ?? process.env.BERTH_TEST_PYTHON ?? 'python3';
  const child = spawn(python, ['-c', MOTO_LAUNCHER, '127.0.0.1', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  const giveUpAt = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (response.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > giveUpAt) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    port,
    pid: child.pid,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: ${response.status}`);
    },
    stop,
  };
}
