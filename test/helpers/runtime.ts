/**
 * Test helper: a real local runtime (`node bin/berth.js runtime serve`) in a fresh temporary data
 * dir, on free ports, with everything it started (including replicas) killed afterwards.
 * Assumes the build is fresh (`npm test` builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import type { RuntimeClient } from '../../src/runtime/client.js';
import { connectRuntime } from '../../src/runtime/launcher.js';
import { runtimePaths } from '../../src/runtime/paths.js';
import type { RuntimeStateFile } from '../../src/runtime/store.js';
import type { RuntimeInfo, RuntimeService } from '../../src/runtime/types.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HELLO_DIR = join(REPO_ROOT, 'examples', 'hello');
export const FIXTURE_DIR = join(REPO_ROOT, 'test', 'runtime', 'fixtures');
const ENTRY = join(REPO_ROOT, 'bin', 'berth.js');

export interface ProxyResponse {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

export interface TestRuntime {
  dataDir: string;
  /** Replaced by restart() (the console port changes). */
  client: RuntimeClient;
  info: RuntimeInfo;
  proxyUrl: string;
  /** The runtime process's pid (changes on restart). */
  readonly pid: number;
  /** GET (or another method) through the proxy with this Host header. */
  request(
    host: string,
    path?: string,
    init?: { method?: string; body?: string | Buffer },
  ): Promise<ProxyResponse>;
  /** Start the runtime again in the same data dir and on the same proxy port (stops it first if running). */
  restart(): Promise<void>;
  /** Send a signal to the runtime process only (not its replicas) and wait until it exits. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stop the runtime and every process it started, and remove the data dir. */
  stop(): Promise<void>;
}

const live = new Set<TestRuntime>();

export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? 'a condition'} (last: ${String(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Pids of live processes whose environment has BERTH_SERVICE=<name> (replicas of that service). */
export function replicaPids(serviceName: string): number[] {
  const needle = `BERTH_SERVICE=${serviceName}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (`${environ}\0`.includes(needle) && alive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

function statePids(dataDir: string): number[] {
  try {
    const state = JSON.parse(readFileSync(runtimePaths(dataDir).state, 'utf8')) as RuntimeStateFile;
    return state.processes.map((p) => p.pid).filter((pid): pid is number => typeof pid === 'number');
  } catch {
    return [];
  }
}

export function proxyRequest(
  port: number,
  host: string,
  path = '/',
  init: { method?: string; body?: string | Buffer } = {},
): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end(init.body);
  });
}

export async function startTestRuntime(options: { env?: Record<string, string> } = {}): Promise<TestRuntime> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-rt-test-'));
  const pgids = new Set<number>();
  let child: ChildProcess | null = null;
  let proxyPort = 0;

  const launch = async () => {
    const logFd = openSync(join(dataDir, 'runtime-test.log'), 'a');
    const proc = spawn(
      process.execPath,
      [ENTRY, 'runtime', 'serve', '--data-dir', dataDir, '--proxy-port', String(proxyPort)],
      {
        cwd: REPO_ROOT,
        detached: true, // its own process group: replicas included, killed together on cleanup
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, BERTH_RUNTIME_DRAIN_MS: '100', ...options.env },
      },
    );
    closeSync(logFd);
    child = proc;
    pgids.add(proc.pid!);
    let exited = false;
    proc.on('exit', () => (exited = true));
    const client = await waitFor(
      async () => {
        if (exited)
          throw new Error(`runtime exited: ${readFileSync(join(dataDir, 'runtime-test.log'), 'utf8')}`);
        const raw = readFileSync(runtimePaths(dataDir).discovery, 'utf8');
        if ((JSON.parse(raw) as { pid: number }).pid !== proc.pid) return null;
        return connectRuntime(dataDir);
      },
      { timeoutMs: 15_000, what: 'the runtime to start' },
    ).catch((error: Error) => {
      const log = (() => {
        try {
          return readFileSync(join(dataDir, 'runtime-test.log'), 'utf8');
        } catch {
          return '';
        }
      })();
      throw new Error(`${error.message}\nruntime log:\n${log}`);
    });
    rt.client = client;
    rt.info = await client.info();
    proxyPort = rt.info.proxy.port;
    rt.proxyUrl = rt.info.proxy.url;
  };

  const waitExit = async (proc: ChildProcess, timeoutMs: number) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await Promise.race([
      new Promise((resolve) => proc.once('exit', resolve)),
      new Promise((resolve) => setTimeout(resolve, timeoutMs)),
    ]);
  };

  const rt: TestRuntime = {
    dataDir,
    client: undefined as unknown as RuntimeClient,
    info: undefined as unknown as RuntimeInfo,
    proxyUrl: '',
    get pid() {
      return child?.pid ?? 0;
    },
    request: (host, path, init) => proxyRequest(proxyPort, host, path, init),
    async kill(signal = 'SIGKILL') {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await waitExit(proc, 15_000);
    },
    async restart() {
      const proc = child;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await waitExit(proc, 15_000);
      }
      await launch();
    },
    async stop() {
      live.delete(rt);
      const proc = child;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await waitExit(proc, 8_000);
      }
      const leftovers = statePids(dataDir);
      for (const pgid of pgids) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // group gone
        }
      }
      for (const pid of leftovers) {
        try {
          if (alive(pid)) process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  live.add(rt);
  try {
    await launch();
  } catch (error) {
    await rt.stop();
    throw error;
  }
  return rt;
}

/** Stop every test runtime still running (registered as afterAll by importing this module). */
export async function stopAllTestRuntimes(): Promise<void> {
  await Promise.allSettled([...live].map((rt) => rt.stop()));
}
afterAll(stopAllTestRuntimes);

export interface DeployedService {
  service: RuntimeService;
  host: string;
}

/** Create a service, a route and a DNS record pointing at the proxy: what berth's local provider does. */
export async function deployService(
  rt: TestRuntime,
  input: {
    name: string;
    replicas?: number;
    command?: string[];
    cwd?: string;
    host?: string;
    tags?: Record<string, string>;
    health?: Partial<RuntimeService['health']>;
    env?: Record<string, string>;
  },
): Promise<DeployedService> {
  const host = input.host ?? `${input.name}.test.localhost`;
  const service = await rt.client.create('services', {
    name: input.name,
    command: input.command ?? ['node', 'server.js'],
    cwd: input.cwd ?? HELLO_DIR,
    env: input.env ?? {},
    replicas: input.replicas ?? 1,
    health: {
      path: '/healthz',
      intervalMs: 200,
      timeoutMs: 500,
      healthyThreshold: 1,
      unhealthyThreshold: 2,
      ...input.health,
    },
    tags: input.tags ?? {},
  });
  await rt.client.create('routes', { host, serviceId: service.id, tags: input.tags ?? {} });
  await rt.client.create('dns', {
    name: host,
    type: 'CNAME',
    target: rt.info.proxyHost,
    tags: input.tags ?? {},
  });
  return { service, host };
}

/** Wait until the service has `count` healthy replicas. */
export async function waitHealthy(rt: TestRuntime, serviceId: string, count: number, timeoutMs = 10_000) {
  return waitFor(
    async () => {
      const service = await rt.client.get('services', serviceId);
      const healthy = service?.replicaStatus.filter((r) => r.state === 'healthy').length ?? 0;
      return healthy >= count ? service : null;
    },
    { timeoutMs, what: `${count} healthy replicas of ${serviceId}` },
  );
}
