import type { CommandSpec } from '../registry.js';
import { loadConfig } from '../environment.js';
import { UserError } from '../../core/errors.js';
import { ensureRuntime } from '../../runtime/launcher.js';
import { readApiDiscovery, apiPaths } from '../../api/paths.js';
import {
  claimDiscovery,
  discoveryHeld,
  livePeers,
  registerPeer,
  releaseDiscovery,
  unregisterPeer,
  withDataDirLock,
  type PeerRecord,
} from '../../api/peers.js';
import { ensureLocalAdminToken, TokenStore } from '../../api/tokens.js';

const DEFAULT_API_PORT = 4000;
/** How often a peer checks whether api.json's holder died (then it takes api.json over). */
const DISCOVERY_WATCH_MS = 2_000;

interface PortChoice {
  port: number;
  /** Where it came from: a replica of a service gets its port from $PORT. */
  source: 'flag' | 'PORT' | 'BERTH_API_PORT' | 'default';
}

function choosePort(value: unknown): PortChoice {
  const [raw, source]: [unknown, PortChoice['source']] =
    value !== undefined
      ? [value, 'flag']
      : process.env.PORT
        ? [process.env.PORT, 'PORT']
        : process.env.BERTH_API_PORT
          ? [process.env.BERTH_API_PORT, 'BERTH_API_PORT']
          : [DEFAULT_API_PORT, 'default'];
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    const name = source === 'flag' ? '--port' : source === 'default' ? 'the port' : `$${source}`;
    throw new UserError(`${name} must be a port number (0-65535), not "${String(raw)}"`);
  }
  return { port, source };
}

export const upCommand: CommandSpec = {
  name: 'up',
  summary: 'start the control plane: the local runtime, the API, the reconciler host and the dashboard',
  options: [
    {
      flags: '--port <port>',
      description:
        'API port (default $PORT, else $BERTH_API_PORT, else 4000, or any free port when a peer already has 4000; 0 = any free port)',
    },
    { flags: '--host <address>', description: 'address the API listens on', defaultValue: '127.0.0.1' },
    {
      flags: '--allow-host <host...>',
      description: 'also answer to these Host headers (host:port), e.g. behind a reverse proxy',
    },
    {
      flags: '--grace <seconds>',
      description: 'on stop, how long a running step may take',
      defaultValue: '15',
    },
  ],
  help: [
    'Ctrl-C stops the control plane; the local runtime and its services keep running.',
    'The CLI on this machine then uses the API by itself (see <data dir>/api.json); --direct skips it.',
    'Several `berth up` on one data dir (or one shared state store) are peers: each serves the API on',
    'its own port; one reconciler per environment acts at a time (the lease in the state store), and',
    "a peer takes over a dead or stopped one's environments. api.json names one local peer at a time.",
  ].join('\n'),
  async run({ options, globals, io }) {
    const { dataDir } = globals;
    const choice = choosePort(options.port);
    const { source } = choice;
    let { port } = choice;
    const graceMs = Number(options.grace) * 1000;
    if (!Number.isFinite(graceMs) || graceMs < 0) throw new UserError('--grace must be a number of seconds');
    const config = await loadConfig(globals); // writes the default config on first use; refuses an invalid one
    const peers = livePeers(dataDir);
    const holder = readApiDiscovery(dataDir);
    if (peers.length > 0 || discoveryHeld(holder)) {
      const names = peers.map((peer) => peer.url).join(', ') || holder?.url;
      io.err(io.color.dim(`joining the control plane(s) already running on ${dataDir} as a peer (${names})`));
      // Two peers cannot both have the default port: this one takes any free port instead.
      if (source === 'default') port = 0;
    }
    // The local runtime is shared: the first peer starts it, the others use it.
    const needsRuntime = Object.values(config.environments).some((env) => env.provider === 'local');
    const runtime = needsRuntime
      ? await ensureRuntime(dataDir, { onStart: (message) => io.err(io.color.dim(message)) })
      : null;
    const info = runtime ? await runtime.info() : null;
    // Peers starting at once make the admin token once.
    const adminToken = await withDataDirLock(dataDir, 'api-token', () => ensureLocalAdminToken(dataDir));
    // Loaded only here: the API server (and its HTTP framework) is not needed by other commands.
    const { startControlPlane } = await import('../../api/server.js');
    const server = await startControlPlane({
      dataDir,
      host: options.host as string,
      port,
      allowHosts: options.allowHost as string[] | undefined,
      log: (message) => io.err(io.color.dim(message)),
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE' && error.code !== 'EADDRNOTAVAIL' && error.code !== 'EACCES')
        throw error;
      throw new UserError(`the API cannot listen on ${String(options.host)}:${port} (${error.code})`, {
        hint: 'choose another port with --port (0 picks a free one) or stop what uses it',
      });
    });
    const dashboardUrl = `${server.url}/`;
    // A one-time code in the fragment (never sent to the server in a request line): signs the
    // local user in once, within 2 minutes; `berth dashboard --env E` prints a fresh one.
    const admin = TokenStore.forDataDir(dataDir).verify(adminToken);
    const signIn = admin ? `${dashboardUrl}#code=${server.sessions.createCode(admin).code}` : dashboardUrl;
    const self: PeerRecord = registerPeer(dataDir, {
      url: server.url,
      dashboardUrl,
      startedAt: new Date().toISOString(),
      replica: source === 'PORT',
    });
    let holdsDiscovery = claimDiscovery(dataDir, self);
    // When api.json's holder dies, a live local peer takes it over, so the CLI keeps finding an API.
    const watch = setInterval(() => {
      if (!holdsDiscovery) holdsDiscovery = claimDiscovery(dataDir, self);
    }, DISCOVERY_WATCH_MS);
    watch.unref();
    const summary = {
      api: server.url,
      dashboard: dashboardUrl,
      signIn,
      proxy: info?.proxy.url ?? null,
      runtime: info?.consoleUrl ?? null,
      token: apiPaths(dataDir).localToken,
      pid: process.pid,
      apiJson: holdsDiscovery,
    };
    if (globals.json) io.out(JSON.stringify(summary));
    else {
      io.out(`api:        ${summary.api}   (OpenAPI: ${summary.api}/openapi.json)`);
      io.out(
        `dashboard:  ${summary.signIn}   (signs you in once, within 2 minutes; later: berth dashboard --env local)`,
      );
      if (info) {
        io.out(
          `services:   ${info.proxy.url}   (the local runtime's proxy, e.g. http://hello.local.localhost:${info.proxy.port}/)`,
        );
      }
      io.out(`token:      ${summary.token}   (admin; the CLI on this machine uses it by itself)`);
    }
    io.err(
      `berth control plane is up (pid ${process.pid}). Ctrl-C stops it; the runtime and its services keep running.`,
    );

    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          io.err(`${signal} again: stopping now; running operations resume with the next command`);
          unregisterPeer(dataDir);
          releaseDiscovery(dataDir, self);
          process.exit(130);
        }
        stopping = true;
        io.err('stopping the control plane (running steps finish first; the runtime keeps running) ...');
        clearInterval(watch);
        void server
          .close(graceMs)
          .then(({ interrupted }) => {
            unregisterPeer(dataDir);
            const next = releaseDiscovery(dataDir, self);
            if (next) io.err(`the CLI on this machine now uses the peer at ${next.url}`);
            io.err(
              interrupted
                ? `stopped; ${interrupted} operation(s) stopped between steps and resume with the next command`
                : 'stopped',
            );
            resolve();
          })
          .catch((error: unknown) => {
            io.err(`stopping failed: ${String(error)}`);
            process.exit(1);
          });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    // Operations parked between steps hold promises that never settle: leave at once.
    process.exit(0);
  },
};
