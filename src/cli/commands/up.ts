import type { CommandSpec } from '../registry.js';
import { loadConfig } from '../environment.js';
import { UserError } from '../../core/errors.js';
import { ensureRuntime } from '../../runtime/launcher.js';
import { isProcessAlive } from '../../runtime/files.js';
import { readApiDiscovery, writeApiDiscovery, apiPaths } from '../../api/paths.js';
import { ensureLocalAdminToken, TokenStore } from '../../api/tokens.js';

const DEFAULT_API_PORT = 4000;

function parsePort(value: unknown): number {
  const raw = value ?? process.env.BERTH_API_PORT ?? DEFAULT_API_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(`--port must be a port number (0-65535), not "${String(raw)}"`);
  }
  return port;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

export const upCommand: CommandSpec = {
  name: 'up',
  summary: 'start the control plane: the local runtime, the API, the reconciler host and the dashboard',
  options: [
    { flags: '--port <port>', description: 'API port (default $BERTH_API_PORT or 4000; 0 = any free port)' },
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
  ].join('\n'),
  async run({ options, globals, io }) {
    const { dataDir } = globals;
    const port = parsePort(options.port);
    const graceMs = Number(options.grace) * 1000;
    if (!Number.isFinite(graceMs) || graceMs < 0) throw new UserError('--grace must be a number of seconds');
    const previous = readApiDiscovery(dataDir);
    if (previous && !previous.stoppedAt && isProcessAlive(previous.pid) && (await answers(previous.url))) {
      throw new UserError(
        `a control plane already runs for ${dataDir} at ${previous.url} (pid ${previous.pid})`,
        {
          code: 'already_running',
          hint: `stop it (Ctrl-C in its terminal, or kill ${previous.pid}), or use it as it is`,
        },
      );
    }
    await loadConfig(globals); // writes the default config on first use; refuses an invalid one
    const runtime = await ensureRuntime(dataDir, { onStart: (message) => io.err(io.color.dim(message)) });
    const info = await runtime.info();
    const adminToken = ensureLocalAdminToken(dataDir);
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
    const startedAt = new Date().toISOString();
    writeApiDiscovery(dataDir, { url: server.url, pid: process.pid, startedAt, dashboardUrl });
    const summary = {
      api: server.url,
      dashboard: dashboardUrl,
      signIn,
      proxy: info.proxy.url,
      runtime: info.consoleUrl,
      token: apiPaths(dataDir).localToken,
      pid: process.pid,
    };
    if (globals.json) io.out(JSON.stringify(summary));
    else {
      io.out(`api:        ${summary.api}   (OpenAPI: ${summary.api}/openapi.json)`);
      io.out(
        `dashboard:  ${summary.signIn}   (signs you in once, within 2 minutes; later: berth dashboard --env local)`,
      );
      io.out(
        `services:   ${summary.proxy}   (the local runtime's proxy, e.g. http://hello.local.localhost:${info.proxy.port}/)`,
      );
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
          process.exit(130);
        }
        stopping = true;
        io.err('stopping the control plane (running steps finish first; the runtime keeps running) ...');
        void server
          .close(graceMs)
          .then(({ interrupted }) => {
            writeApiDiscovery(dataDir, {
              url: server.url,
              pid: process.pid,
              startedAt,
              dashboardUrl,
              stoppedAt: new Date().toISOString(),
            });
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
