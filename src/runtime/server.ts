import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdirSync, rmSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { buildConsole } from './console.js';
import { isProcessAlive, makePrivate, readFileOrNull, writeFileAtomic } from './files.js';
import { resolveReplicaUser } from './replica-process.js';
import { HealthCheckRunner } from './healthcheck-runner.js';
import { runtimePaths, type RuntimePaths } from './paths.js';
import { pingRuntime, readDiscovery } from './discovery.js';
import { RuntimeProxy } from './proxy.js';
import { RuntimeStore } from './store.js';
import { Supervisor } from './supervisor.js';
import { RUNTIME_PROXY_HOST, type RuntimeDiscovery, type RuntimeInfo } from './types.js';

export const DEFAULT_PROXY_PORT = 4080;

export interface ServeRuntimeOptions {
  dataDir: string;
  /** Default: $BERTH_PROXY_PORT, else 4080; 0 picks any free port. */
  proxyPort?: number;
  /** Default 0: any free port. */
  consolePort?: number;
  host?: string;
  /** Install SIGTERM/SIGINT handlers that stop everything and exit 0. Default true. */
  handleSignals?: boolean;
  /** Progress lines (default: stderr). */
  log?: (message: string) => void;
  /**
   * Run replicas as this unprivileged user (default $BERTH_REPLICA_USER); needs root. Without it
   * replicas run as the runtime's own user, which is why changing `run` then needs admin.
   */
  replicaUser?: string;
}

export interface RuntimeServer {
  info: RuntimeInfo;
  token: string;
  /** Stop replicas (SIGTERM, SIGKILL after 5 s), close the proxy and console, remove runtime.json. */
  close(): Promise<void>;
}

/** The console token: random, created once, mode 0600. */
export function ensureToken(paths: RuntimePaths): string {
  const existing = readFileOrNull(paths.token)?.trim();
  if (existing) return existing;
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  try {
    writeFileAtomic(paths.token, `${token}\n`, 0o600);
  } catch (error) {
    throw new UserError(`cannot write the runtime console token ${paths.token}`, { cause: error });
  }
  return token;
}

function resolveProxyPort(flag: number | undefined): number {
  if (flag !== undefined) return flag;
  const env = process.env.BERTH_PROXY_PORT;
  if (env !== undefined && env !== '') {
    const port = Number(env);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UserError(`BERTH_PROXY_PORT must be a port number (0-65535), not "${env}"`);
    }
    return port;
  }
  return DEFAULT_PROXY_PORT;
}

/**
 * Run the local runtime in this process: its state, supervisor, proxy, health checks and console.
 * Refuses when another live runtime already owns the data dir.
 */
export async function serveRuntime(options: ServeRuntimeOptions): Promise<RuntimeServer> {
  const host = options.host ?? '127.0.0.1';
  const write = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  // The runtime's log is a file in the data dir: on a full disk a line is lost, never a service.
  const log = (message: string) => {
    try {
      write(message);
    } catch {
      // nowhere to write it
    }
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') === 0) stream.on('error', () => {});
  }
  const paths = runtimePaths(options.dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // Replicas, whoever they run as, must find nothing to read in the data dir.
  makePrivate(options.dataDir);
  const replicaUserName = options.replicaUser ?? (process.env.BERTH_REPLICA_USER || undefined);
  const replicaUser = replicaUserName ? resolveReplicaUser(replicaUserName) : null;

  const existing = readDiscovery(paths);
  if (
    existing &&
    existing.pid !== process.pid &&
    isProcessAlive(existing.pid) &&
    (await pingRuntime(existing.consoleUrl))
  ) {
    throw new UserError(`the local runtime for ${options.dataDir} is already running (pid ${existing.pid})`, {
      details: [`console ${existing.consoleUrl}, proxy port ${existing.proxyPort}`],
      hint: 'use `berth runtime info` to inspect it, or `berth runtime stop` to stop it first',
      code: 'runtime_running',
    });
  }

  const proxyPort = resolveProxyPort(options.proxyPort);
  const token = ensureToken(paths);
  const store = RuntimeStore.load(paths);
  const supervisor = new Supervisor(store, paths, { log, replicaUser });
  await supervisor.killLeftovers();

  const proxy = new RuntimeProxy(store, supervisor, RUNTIME_PROXY_HOST);
  let boundProxyPort: number;
  try {
    boundProxyPort = await proxy.listen(proxyPort, host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new UserError(`the local runtime cannot listen on proxy port ${proxyPort} (${code})`, {
        hint: 'another program uses it: pick another with --proxy-port N or BERTH_PROXY_PORT=N (0 = any free port)',
        code: 'proxy_port_unavailable',
      });
    }
    throw error;
  }

  const startedAt = new Date().toISOString();
  let consoleUrl = '';
  const info = (): RuntimeInfo => ({
    instanceId: store.instanceId,
    hostname: hostname(),
    pid: process.pid,
    startedAt,
    consoleUrl,
    proxy: { port: boundProxyPort, url: `http://127.0.0.1:${boundProxyPort}` },
    proxyHost: RUNTIME_PROXY_HOST,
    replicaUser: replicaUser?.name ?? null,
  });
  const app = buildConsole({ store, supervisor, paths, token, info });
  try {
    await app.listen({ port: options.consolePort ?? 0, host });
  } catch (error) {
    await proxy.close();
    throw new UserError(`the local runtime console cannot listen on port ${options.consolePort ?? 0}`, {
      cause: error,
      details: [String((error as Error).message)],
    });
  }
  const address = app.server.address() as { port: number };
  consoleUrl = `http://${host}:${address.port}`;

  const healthchecks = new HealthCheckRunner(store, boundProxyPort);
  supervisor.start();
  healthchecks.start();

  const discovery: RuntimeDiscovery = {
    pid: process.pid,
    consoleUrl,
    proxyPort: boundProxyPort,
    instanceId: store.instanceId,
    startedAt,
  };
  writeFileAtomic(paths.discovery, `${JSON.stringify(discovery, null, 2)}\n`);
  log(
    `berth runtime ${store.instanceId} (pid ${process.pid}): console ${consoleUrl}, proxy http://${host}:${boundProxyPort}`,
  );

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      healthchecks.stop();
      await supervisor.stopAll();
      await Promise.allSettled([app.close(), proxy.close()]);
      const current = readDiscovery(paths);
      if (current?.pid === process.pid) rmSync(paths.discovery, { force: true });
    })();
    return closing;
  };

  if (options.handleSignals !== false) {
    const onSignal = (signal: NodeJS.Signals) => {
      log(`${signal}: stopping replicas`);
      const force = setTimeout(() => process.exit(0), 15_000);
      force.unref();
      close().then(
        () => process.exit(0),
        (error) => {
          log(`error while stopping: ${String(error)}`);
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  return { info: info(), token, close };
}
