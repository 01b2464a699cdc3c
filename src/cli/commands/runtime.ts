import { sleep } from '../../core/clock.js';
import { UserError } from '../../core/errors.js';
import { TAG_ENV, TAG_SERVICE } from '../../core/tags.js';
import type { RuntimeClient } from '../../runtime/client.js';
import { isProcessAlive } from '../../runtime/files.js';
import { connectRuntime } from '../../runtime/launcher.js';
import { runtimePaths } from '../../runtime/paths.js';
import { readDiscovery } from '../../runtime/discovery.js';
import {
  RUNTIME_ID_PREFIX,
  RUNTIME_KINDS,
  type RuntimeKind,
  type RuntimeResource,
  type RuntimeService,
} from '../../runtime/types.js';
import type { CommandInput, CommandSpec } from '../registry.js';
import { renderTable } from '../render/table.js';

function parsePort(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(`${flag} must be a port number (0-65535), not "${String(value)}"`);
  }
  return port;
}

async function requireRuntime(input: CommandInput): Promise<RuntimeClient> {
  const client = await connectRuntime(input.globals.dataDir);
  if (!client) {
    throw new UserError(`the local runtime is not running for ${input.globals.dataDir}`, {
      hint: 'start it with `berth runtime serve` (any berth command that needs it starts it too)',
      exitCode: 4,
      code: 'runtime_unreachable',
    });
  }
  return client;
}

function kindOfId(id: string): RuntimeKind {
  for (const kind of RUNTIME_KINDS) if (id.startsWith(`${RUNTIME_ID_PREFIX[kind]}-`)) return kind;
  throw new UserError(`"${id}" is not a runtime resource id`, {
    hint: 'ids start with svc-, rt-, dns- or hc-; see `berth runtime ls`',
  });
}

function tagsText(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function describe(kind: RuntimeKind, item: RuntimeResource): { name: string; state: string } {
  switch (kind) {
    case 'services': {
      const s = item as RuntimeService;
      const healthy = s.replicaStatus.filter((r) => r.state === 'healthy').length;
      return { name: s.name, state: `${healthy}/${s.replicas} healthy` };
    }
    case 'routes': {
      const r = item as RuntimeResource & { host: string; serviceId: string };
      return { name: r.host, state: `-> ${r.serviceId}` };
    }
    case 'dns': {
      const d = item as RuntimeResource & { name: string; target: string };
      return { name: d.name, state: `CNAME ${d.target}` };
    }
    case 'healthchecks': {
      const h = item as RuntimeResource & { host: string; status: string };
      return { name: h.host, state: h.status };
    }
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The runtime service a user means: its id (svc-…), its runtime name (hello-local-g1), or the
 * berth service's name as the README writes it (`berth runtime kill hello`), narrowed by --env
 * when the same service runs in several environments.
 */
async function resolveService(
  client: RuntimeClient,
  ref: string,
  env: string | undefined,
): Promise<RuntimeService> {
  if (ref.startsWith(`${RUNTIME_ID_PREFIX.services}-`)) {
    const service = await client.get('services', ref);
    if (service) return service;
  }
  const services = await client.list('services');
  const byName = services.find((s) => s.name === ref);
  if (byName) return byName;
  const matches = services.filter(
    (s) => s.tags[TAG_SERVICE] === ref && (env === undefined || s.tags[TAG_ENV] === env),
  );
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new UserError(`"${ref}" runs ${matches.length} times in the local runtime`, {
      details: matches.map((s) => `${s.id}  ${s.name}  (env ${s.tags[TAG_ENV] ?? '?'})`),
      hint: env === undefined ? `name the environment with --env, or give an id` : 'give an id',
    });
  }
  throw new UserError(`the local runtime has no service "${ref}"${env ? ` in ${env}` : ''}`, {
    hint: 'see `berth runtime ls services`',
  });
}

const serve: CommandSpec = {
  name: 'serve',
  summary: 'run the local runtime in the foreground',
  options: [
    {
      flags: '--proxy-port <port>',
      description: 'proxy port (default $BERTH_PROXY_PORT or 4080; 0 = any free port)',
    },
    { flags: '--console-port <port>', description: 'console port (default: any free port)' },
    {
      flags: '--replica-user <user>',
      description: 'run replicas as this unprivileged user (needs root; default $BERTH_REPLICA_USER)',
    },
  ],
  run: async (input) => {
    // Loaded only here: the server (and its HTTP framework) is not needed by any other command.
    const { serveRuntime } = await import('../../runtime/server.js');
    const server = await serveRuntime({
      dataDir: input.globals.dataDir,
      proxyPort: parsePort(input.options.proxyPort, '--proxy-port'),
      consolePort: parsePort(input.options.consolePort, '--console-port') ?? 0,
      replicaUser: input.options.replicaUser as string | undefined,
      log: (message) => input.io.err(message),
    });
    if (input.globals.json) input.io.out(JSON.stringify(server.info));
    // Runs until SIGTERM/SIGINT (handled by serveRuntime).
    await new Promise(() => {});
  },
};

const info: CommandSpec = {
  name: 'info',
  summary: "the running local runtime's identity, console and proxy",
  run: async (input) => {
    const client = await requireRuntime(input);
    const data = await client.info();
    if (input.globals.json) return void input.io.out(JSON.stringify(data, null, 2));
    input.io.out(
      table([
        ['instance', data.instanceId],
        ['pid', String(data.pid)],
        ['host', data.hostname],
        ['started', data.startedAt],
        ['console', data.consoleUrl],
        ['proxy', data.proxy.url],
        ['dns target', data.proxyHost],
      ]),
    );
  },
};

const ls: CommandSpec = {
  name: 'ls [kind]',
  summary: 'list the runtime resources (services, routes, dns, healthchecks)',
  options: [{ flags: '--tag <key=value...>', description: 'only resources with these tags' }],
  run: async (input) => {
    const kindArg = input.args[0];
    if (kindArg !== undefined && !(RUNTIME_KINDS as readonly string[]).includes(kindArg)) {
      throw new UserError(`unknown kind "${kindArg}"`, { hint: `kinds: ${RUNTIME_KINDS.join(', ')}` });
    }
    const tags: Record<string, string> = {};
    for (const raw of (input.options.tag as string[] | undefined) ?? []) {
      const eq = raw.indexOf('=');
      if (eq <= 0) throw new UserError(`--tag "${raw}" must look like key=value`);
      tags[raw.slice(0, eq)] = raw.slice(eq + 1);
    }
    const client = await requireRuntime(input);
    const kinds = kindArg ? [kindArg as RuntimeKind] : [...RUNTIME_KINDS];
    const all: { kind: RuntimeKind; item: RuntimeResource }[] = [];
    for (const kind of kinds) for (const item of await client.list(kind, tags)) all.push({ kind, item });
    if (input.globals.json) {
      return void input.io.out(
        JSON.stringify(
          all.map(({ kind, item }) => ({ kind, ...item })),
          null,
          2,
        ),
      );
    }
    if (all.length === 0) return void input.io.err('the local runtime has no resources');
    const rows = all.map(({ kind, item }) => {
      const d = describe(kind, item);
      return [kind, item.id, d.name, d.state, tagsText(item.tags)];
    });
    input.io.out(
      renderTable(['KIND', 'ID', 'NAME/HOST', 'STATE', 'TAGS'], rows, {
        width: input.io.width,
        ownLine: ['TAGS'],
        shrink: ['NAME/HOST', 'STATE'],
      }),
    );
  },
};

const show: CommandSpec = {
  name: 'show <id>',
  summary: 'one runtime resource, as JSON',
  run: async (input) => {
    const id = input.args[0]!;
    const kind = kindOfId(id);
    const client = await requireRuntime(input);
    const item = await client.get(kind, id);
    if (!item)
      throw new UserError(`the local runtime has no ${kind} resource "${id}"`, { code: 'not_found' });
    input.io.out(JSON.stringify(item, null, 2));
  },
};

const rm: CommandSpec = {
  name: 'rm <id>',
  summary: "delete a runtime resource by id, behind berth's back",
  run: async (input) => {
    const id = input.args[0]!;
    const kind = kindOfId(id);
    const client = await requireRuntime(input);
    const removed = await client.remove(kind, id);
    if (input.globals.json) return void input.io.out(JSON.stringify({ id, kind, removed }));
    input.io.err(removed ? `removed ${kind} ${id}` : `${kind} ${id} was already gone`);
  },
};

const kill: CommandSpec = {
  name: 'kill <service>',
  summary: "kill a service's replica processes (service name, runtime name or id); the runtime restarts them",
  options: [
    { flags: '--replica <n>', description: 'only this replica (default: all)' },
    {
      flags: '--signal <signal>',
      description: 'SIGKILL or SIGTERM',
      defaultValue: 'SIGKILL',
      choices: ['SIGKILL', 'SIGTERM'],
    },
  ],
  run: async (input) => {
    const client = await requireRuntime(input);
    const service = await resolveService(client, input.args[0]!, input.globals.env);
    const signal = input.options.signal as 'SIGKILL' | 'SIGTERM';
    let indexes = service.replicaStatus.map((r) => r.index);
    if (input.options.replica !== undefined) {
      const n = Number(input.options.replica);
      if (!Number.isInteger(n) || n < 0) throw new UserError('--replica must be a replica index (0, 1, ...)');
      indexes = [n];
    }
    for (const index of indexes) {
      await client.killReplica(service.id, index, signal);
      input.io.err(`sent ${signal} to ${service.name} replica ${index}`);
    }
  },
};

const logs: CommandSpec = {
  name: 'logs <service>',
  summary: "the last lines of a service's replica logs (service name, runtime name or id)",
  options: [{ flags: '--lines <n>', description: 'lines per replica', defaultValue: '50' }],
  run: async (input) => {
    const lines = Number(input.options.lines);
    if (!Number.isInteger(lines) || lines < 0) throw new UserError('--lines must be a whole number');
    const client = await requireRuntime(input);
    const service = await resolveService(client, input.args[0]!, input.globals.env);
    const data = await client.logs(service.id, lines);
    if (input.globals.json) return void input.io.out(JSON.stringify(data, null, 2));
    for (const replica of data) {
      for (const line of replica.lines) input.io.out(`[${service.name}/${replica.index}] ${line}`);
    }
  },
};

const stop: CommandSpec = {
  name: 'stop',
  summary: 'stop the local runtime and its replicas',
  run: async (input) => {
    const paths = runtimePaths(input.globals.dataDir);
    const discovery = readDiscovery(paths);
    if (!discovery || !isProcessAlive(discovery.pid)) {
      input.io.err('the local runtime is not running');
      return;
    }
    process.kill(discovery.pid, 'SIGTERM');
    input.io.err(`stopping the local runtime (pid ${discovery.pid}) ...`);
    const deadline = Date.now() + 15_000;
    while (isProcessAlive(discovery.pid)) {
      if (Date.now() > deadline) {
        throw new UserError(`the local runtime (pid ${discovery.pid}) did not stop within 15 s`, {
          hint: `kill it with: kill -9 ${discovery.pid}`,
          exitCode: 1,
        });
      }
      await sleep(50);
    }
    input.io.err('stopped');
  },
};

export const runtimeCommand: CommandSpec = {
  name: 'runtime',
  summary: "the local runtime's own console (acts behind berth's back)",
  help: [
    'Examples:',
    '  berth runtime serve --proxy-port 4080',
    '  berth runtime ls services',
    '  berth runtime kill hello --replica 0',
    '  berth runtime rm svc-3f9a1c2b7d4e',
  ].join('\n'),
  subcommands: [serve, info, ls, show, rm, kill, logs, stop],
};
