/** The control plane process: the API on a port, the engine runner, and the hosts beside them. */
import { ControlPlane } from './control-plane.js';
import { buildApp } from './app.js';
import { defaultAllowedHosts } from './auth.js';
import { startControlPlaneHosts, type ControlPlaneHosts } from './hosts.js';
import { createMetrics } from './metrics.js';
import { SessionStore } from './sessions.js';
import { apiPaths } from './paths.js';
import { TokenStore } from './tokens.js';
import { packageVersion } from '../core/package-root.js';

export interface StartOptions {
  dataDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Extra accepted Host header values (host:port), e.g. behind a reverse proxy. */
  allowHosts?: string[];
  log?: (message: string) => void;
  /** How long the environment leases last without renewal (default 15 s). */
  leaseTtlMs?: number;
}

export interface RunningControlPlane {
  url: string;
  port: number;
  plane: ControlPlane;
  /** The dashboard's sessions: `berth up` mints the one-time sign-in code it prints here. */
  sessions: SessionStore;
  /** The reconcilers beside the API (one per environment; the lease decides which one acts). */
  hosts: ControlPlaneHosts;
  /**
   * Stops accepting requests, ends live streams, lets each running operation finish its current
   * step (up to `graceMs`), then closes. Operations still running stay resumable.
   */
  close(graceMs?: number): Promise<{ interrupted: number }>;
}

export async function startControlPlane(options: StartOptions): Promise<RunningControlPlane> {
  const log = options.log ?? (() => undefined);
  const metrics = createMetrics({ defaultMetrics: true });
  let hosts: ControlPlaneHosts | null = null;
  const plane = await ControlPlane.create({
    dataDir: options.dataDir,
    log,
    onEvent: (event) => metrics.observeEvent(event),
    onWrite: (env, service) => hosts?.enqueue(env, service),
  });
  let allowed: string[] = [];
  const tokens = TokenStore.forDataDir(options.dataDir);
  const { app, sessions } = await buildApp({
    plane,
    tokens,
    // Shared with the other peers of the data dir: a sign-in on one holds on all of them.
    sessions: new SessionStore(tokens, Date.now, apiPaths(options.dataDir).sessions),
    allowedHosts: () => allowed,
    version: packageVersion(),
    metrics,
    log,
  });
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  allowed = defaultAllowedHosts(port, options.allowHosts);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  hosts = await startControlPlaneHosts(plane, { leaseTtlMs: options.leaseTtlMs });
  const running = hosts;
  metrics.watchReconcilers(() => running.reconcilers());
  void plane.resumeInterrupted({ name: 'control-plane', interface: 'api' });
  return {
    url,
    port,
    plane,
    sessions,
    hosts,
    async close(graceMs) {
      // Leases first, so that a peer takes over this process's environments at once. Repairs
      // under way get the same grace as operations (a replica being replaced gives none: its
      // repair is resumed by the next leader as soon as this process is gone).
      await running.stop(Math.min(graceMs ?? 10_000, 10_000));
      await app.close();
      return plane.close(graceMs);
    },
  };
}
