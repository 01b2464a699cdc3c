/**
 * Several `berth up` on one data dir (one SQLite store) are peers: each serves the API on its own
 * port, exactly one reconciler acts per environment (the environment's lease), and when the
 * leader is killed with a real SIGKILL (a child process, not in-process) another peer takes its
 * environments over within the lease time (15 s): it repairs drift from then on, and the CLI on
 * this machine follows it (api.json). A clean stop hands the environments over at once.
 * The takeover time is printed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { helloSpec } from '../test/helpers/berth.js';
import { runCli, spawnCli } from '../test/helpers/cli.js';
import { startUp, stopRuntime, type UpProcess } from '../test/helpers/control-plane.js';
import { waitFor } from '../test/helpers/runtime.js';
import { connectRuntime } from '../src/runtime/launcher.js';

/** The reconciler's default environment lease. */
const LEASE_MS = 15_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function api<T>(up: UpProcess, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${up.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${up.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T;
}

/** The environments whose reconciler in `up` holds the lease, from its /metrics. */
async function leading(up: UpProcess): Promise<string[]> {
  const text = await api<string>(up, 'GET', '/metrics');
  return [...text.matchAll(/^berth_reconciler_leader\{env="([^"]+)"\} 1$/gm)].map((m) => m[1]!).sort();
}

interface ServiceStatus {
  health: string;
  sync: string;
}

describe('berth up peers on one store', () => {
  it('SIGKILL the leader: a peer takes over its environments within the lease time', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-peers-test-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    cleanups.push(() => stopRuntime(dataDir));

    const first = await startUp(dataDir);
    cleanups.push(() => first.kill());
    const envs = await waitFor(
      async () => {
        const names = await leading(first);
        return names.length >= 2 ? names : null;
      },
      { timeoutMs: 20_000, what: 'the first peer to lead every environment' },
    );
    expect(envs).toContain('local');

    // A second peer: its own port, the same store; it serves the API and stands by.
    const second = await startUp(dataDir);
    cleanups.push(() => second.kill());
    expect(second.api).not.toBe(first.api);
    expect(second.cli.output().stderr).toMatch(/as a peer/);
    expect(await leading(second)).toEqual([]);
    // api.json stays with the first peer.
    const discovery = () => JSON.parse(readFileSync(join(dataDir, 'api.json'), 'utf8')) as { url: string };
    expect(discovery().url).toBe(first.api);

    // A deploy through the second peer's API; the first (the leader) sees it too.
    await api(second, 'PUT', '/v1/envs/local/services/hello', { spec: helloSpec('hello', { replicas: 1 }) });
    await waitFor(
      async () =>
        (await api<ServiceStatus>(first, 'GET', '/v1/envs/local/services/hello')).health === 'Healthy',
      { timeoutMs: 30_000, what: 'hello to be healthy' },
    );

    // SIGKILL the leader (a real child process) and time the takeover.
    const killedAt = Date.now();
    await first.kill('SIGKILL');
    expect(first.cli.child.signalCode).toBe('SIGKILL');
    await waitFor(async () => ((await leading(second)).join() === envs.join() ? true : null), {
      timeoutMs: LEASE_MS + 10_000,
      intervalMs: 50,
      what: 'the second peer to lead every environment',
    });
    const takeoverMs = Date.now() - killedAt;
    console.log(
      `takeover: the standby peer leads ${envs.join(', ')} ${(takeoverMs / 1000).toFixed(2)} s after SIGKILL of the leader (lease ${LEASE_MS / 1000} s)`,
    );
    expect(takeoverMs).toBeLessThan(LEASE_MS);

    // The new leader works: compute deleted behind berth's back is repaired.
    const runtime = await connectRuntime(dataDir);
    const [compute] = await runtime!.list('services', { 'berth:service': 'hello', 'berth:env': 'local' });
    await runtime!.remove('services', compute!.id);
    await waitFor(
      async () => {
        const status = await api<ServiceStatus>(second, 'GET', '/v1/envs/local/services/hello');
        const now = await runtime!.list('services', { 'berth:service': 'hello', 'berth:env': 'local' });
        return (
          now.length === 1 &&
          now[0]!.id !== compute!.id &&
          status.sync === 'InSync' &&
          status.health === 'Healthy'
        );
      },
      { timeoutMs: 30_000, what: 'the new leader to repair the deleted compute' },
    );

    // The CLI on this machine follows a live peer: api.json now names the second one.
    await waitFor(() => (discovery().url === second.api ? true : null), {
      timeoutMs: 10_000,
      what: 'api.json to name the live peer',
    });
    const ls = await runCli(['ls', '--env', 'local', '--json'], { dataDir });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stderr).not.toMatch(/direct/);

    // A clean stop of the leader hands its environments to a third peer at once.
    const third = await startUp(dataDir);
    cleanups.push(() => third.kill());
    const stoppedAt = Date.now();
    await second.kill('SIGTERM');
    expect(second.cli.output().stderr).toMatch(/stopped/);
    await waitFor(async () => ((await leading(third)).join() === envs.join() ? true : null), {
      timeoutMs: LEASE_MS,
      intervalMs: 50,
      what: 'the third peer to lead after a clean stop',
    });
    console.log(
      `handover after a clean stop (SIGTERM): ${((Date.now() - stoppedAt) / 1000).toFixed(2)} s (leases released on stop)`,
    );
    expect(discovery().url).toBe(third.api);
    await third.kill('SIGTERM');
  }, 180_000);

  it('a replica binds its $PORT and leaves api.json to plain berth up', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-peers-port-test-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    cleanups.push(() => stopRuntime(dataDir));
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address() as { port: number };
        server.close(() => resolve(address.port));
      });
    });
    const replica = spawnCli(['up', '--json'], {
      dataDir,
      env: { PORT: String(port), BERTH_PROXY_PORT: '0', BERTH_RUNTIME_DRAIN_MS: '100' },
    });
    cleanups.push(async () => {
      if (replica.child.exitCode === null && replica.child.signalCode === null) {
        replica.child.kill('SIGKILL');
        await replica.exited;
      }
    });
    await replica.waitForStderr('control plane is up', 30_000);
    const summary = JSON.parse(replica.output().stdout.trim().split('\n')[0]!) as {
      api: string;
      apiJson: boolean;
    };
    expect(summary.api).toBe(`http://127.0.0.1:${port}`);
    expect(summary.apiJson).toBe(false);
    expect(existsSync(join(dataDir, 'api.json'))).toBe(false);
    expect((await fetch(`${summary.api}/healthz`)).status).toBe(200);
    // It registers itself in a file of its own, removed when it stops.
    const own = join(dataDir, 'peers', `${replica.child.pid}.json`);
    expect(existsSync(own)).toBe(true);
    replica.child.kill('SIGTERM');
    expect((await replica.exited).code).toBe(0);
    expect(existsSync(join(dataDir, 'api.json'))).toBe(false);
    expect(existsSync(own)).toBe(false);
  }, 60_000);
});
