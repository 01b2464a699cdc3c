import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { ClientConnection, UpstreamPool, type FastContext, type FastEntry } from './proxy-fast.js';
import type { RuntimeStore } from './store.js';
import type { Supervisor } from './supervisor.js';
import type { RuntimeRoute } from './types.js';
import { hostOfHeader, normalizeHostname } from '../spec/hostnames.js';
import { routeOwnerKey } from './route-owner.js';

interface Upstream {
  port: number;
  index: number;
}
interface OkEntry {
  ok: true;
  service: string;
  upstreams: Upstream[];
  next: number;
}
interface ErrorEntry {
  ok: false;
  status: number;
  body: string;
}
type Entry = OkEntry | ErrorEntry;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

/** Host header without port, lower case, without a trailing dot ("" when absent). */
export function normalizeHost(raw: string | undefined): string {
  return raw ? hostOfHeader(raw) : '';
}

/**
 * The route each host name is served by. The console allows routes of one owner only per host;
 * should older state hold routes of several owners, the first owner keeps the name (a later claim
 * never takes over another service's traffic), and among its routes the newest wins.
 */
export function routesByHost(all: RuntimeRoute[]): Map<string, RuntimeRoute> {
  const byAge = [...all].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  const routes = new Map<string, RuntimeRoute>();
  for (const route of byAge) {
    const host = normalizeHostname(route.host);
    const current = routes.get(host);
    if (!current || routeOwnerKey(current) === routeOwnerKey(route)) routes.set(host, route);
  }
  return routes;
}

function errorEntry(status: number, body: string): ErrorEntry {
  return { ok: false, status, body: `${body}\n` };
}

const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface ProxyLimits {
  /** How long a client may take to send a complete request head. Default 10 s ($BERTH_PROXY_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs: number;
  /** Open connections one client address may hold. Default 256 ($BERTH_PROXY_MAX_CONNECTIONS_PER_CLIENT). */
  maxConnectionsPerClient: number;
}

function positiveFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

export function defaultProxyLimits(): ProxyLimits {
  return {
    headersTimeoutMs: positiveFromEnv('BERTH_PROXY_HEADERS_TIMEOUT_MS', 10_000),
    maxConnectionsPerClient: positiveFromEnv('BERTH_PROXY_MAX_CONNECTIONS_PER_CLIENT', 256),
  };
}

const TOO_MANY_CONNECTIONS =
  'berth runtime: too many open connections from your address; close some and retry\n';

/**
 * Why a request that reached node:http must not be routed: two Host headers (which one would be
 * routed?), or an absolute-form target naming another host than Host. Undefined when it is fine.
 */
export function requestHostProblem(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1) return 'more than one Host header';
  const url = req.url ?? '';
  if (url.startsWith('/') || url === '*') return undefined;
  let authority = '';
  try {
    authority = new URL(url).host;
  } catch {
    return 'a request target that is neither a path nor an absolute URL';
  }
  if (hostOfHeader(authority) !== normalizeHost(req.headers.host)) {
    return 'an absolute URL whose host is not the Host header';
  }
  return undefined;
}

/**
 * The runtime's HTTP proxy (its ALB + Route 53): routes by Host to healthy replicas, round-robin.
 * The host -> target table is precomputed on every state change, so a request does one map lookup.
 *
 * Connections are accepted by a plain TCP server and served by the fast path (proxy-fast.ts); at a
 * request boundary it hands anything unusual (Upgrade, Expect, HTTP/1.0, malformed requests, and
 * the 404/503 answers) to `server`, a node:http server that never listens itself.
 */
export class RuntimeProxy {
  /** The node:http server that serves connections handed over by the fast path. */
  readonly server: Server;
  private readonly listener: NetServer;
  private readonly agent: Agent;
  private readonly pool = new UpstreamPool();
  private readonly fastConnections = new Set<Socket>();
  private readonly fast: FastContext;
  private table = new Map<string, Entry>();
  private port = 0;
  /** Open connections per client address (the per-client cap). */
  private readonly perClient = new Map<string, number>();

  constructor(
    private readonly store: RuntimeStore,
    private readonly supervisor: Supervisor,
    private readonly proxyHost: string,
    private readonly limits: ProxyLimits = defaultProxyLimits(),
  ) {
    this.agent = new Agent({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: Infinity,
      maxFreeSockets: 1024,
      scheduling: 'lifo',
      noDelay: true,
    } as ConstructorParameters<typeof Agent>[0]);
    this.server = createServer(
      {
        noDelay: true,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        headersTimeout: limits.headersTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      },
      (req, res) => this.handle(req, res),
    );
    this.fast = {
      pool: this.pool,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: limits.headersTimeoutMs,
      lookup: (rawHost: string): FastEntry | null => {
        const entry = this.table.get(rawHost) ?? this.table.get(normalizeHost(rawHost));
        return entry && entry.ok ? entry : null;
      },
      handoff: (socket: Socket, pending: Buffer | null) => {
        this.fastConnections.delete(socket);
        if (pending && pending.length) socket.unshift(pending);
        this.server.emit('connection', socket);
        socket.resume();
      },
    };
    this.listener = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => {
      if (!this.admit(socket)) return;
      this.fastConnections.add(socket);
      socket.once('close', () => this.fastConnections.delete(socket));
      new ClientConnection(socket, this.fast);
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
    this.server.on('clientError', (_error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    store.on('change', () => this.rebuild());
    supervisor.on('change', () => this.rebuild());
  }

  /**
   * Counts the connection against its client's cap; over the cap it is answered 429 and closed,
   * so that one client cannot hold every connection the proxy can keep open.
   */
  private admit(socket: Socket): boolean {
    const client = socket.remoteAddress ?? '';
    const open = this.perClient.get(client) ?? 0;
    if (open >= this.limits.maxConnectionsPerClient) {
      socket.on('error', () => socket.destroy());
      socket.end(
        `HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\n` +
          `content-length: ${TOO_MANY_CONNECTIONS.length}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${TOO_MANY_CONNECTIONS}`,
      );
      socket.setTimeout(5_000, () => socket.destroy());
      return false;
    }
    this.perClient.set(client, open + 1);
    socket.once('close', () => {
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    });
    return true;
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.listener.once('error', onError);
      this.listener.listen(port, host, () => {
        this.listener.off('error', onError);
        resolve();
      });
    });
    this.port = (this.listener.address() as { port: number }).port;
    // the http server never listens: set up its connection tracking (closeAllConnections, timeouts)
    this.server.emit('listening');
    this.rebuild();
    return this.port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.listener.close(() => resolve());
      for (const socket of this.fastConnections) socket.destroy();
      this.server.close(() => {});
      this.server.closeAllConnections();
    });
    this.agent.destroy();
    this.pool.destroy();
  }

  /** Recompute the host -> target table from DNS records, routes, services and replica health. */
  rebuild(): void {
    const previous = this.table;
    const table = new Map<string, Entry>();
    const pointed = new Map<string, string>();
    const served = new Set<string>();
    for (const record of this.store.list('dns')) {
      const name = normalizeHostname(record.name);
      if (normalizeHostname(record.target) === this.proxyHost) served.add(name);
      else pointed.set(name, record.target);
    }
    const routes = routesByHost(this.store.list('routes'));
    for (const [name, target] of pointed) {
      if (served.has(name)) continue;
      table.set(
        name,
        errorEntry(
          404,
          `berth runtime: no DNS record for "${name}" (its CNAME points at "${target}", not "${this.proxyHost}")`,
        ),
      );
    }
    for (const host of served) {
      const route = routes.get(host);
      let entry: Entry;
      if (!route) {
        entry = errorEntry(404, `berth runtime: no route for host "${host}"`);
      } else {
        const service = this.store.get('services', route.serviceId);
        if (!service) {
          entry = errorEntry(
            503,
            `berth runtime: no healthy replica for "${host}" (route ${route.id} points at service ${route.serviceId}, which does not exist)`,
          );
        } else {
          const upstreams = this.supervisor.healthyPorts(service.id);
          if (upstreams.length === 0) {
            const status = this.supervisor.status(service.id);
            const states = status.length ? status.map((r) => `${r.index}=${r.state}`).join(' ') : 'none';
            entry = errorEntry(
              503,
              `berth runtime: no healthy replica for "${host}" (service ${service.name}: ${status.length} replicas, states ${states})`,
            );
          } else {
            const old = previous.get(host);
            entry = { ok: true, service: service.name, upstreams, next: old && old.ok ? old.next : 0 };
          }
        }
      }
      table.set(host, entry);
    }
    // Also key every entry by "host:port" as clients send it, so the hot path skips normalizing.
    if (this.port) {
      for (const [host, entry] of [...table]) table.set(`${host}:${this.port}`, entry);
    }
    this.table = table;
    const live = new Set<number>();
    for (const entry of table.values()) if (entry.ok) for (const u of entry.upstreams) live.add(u.port);
    this.pool.retain(live);
  }

  private lookup(rawHost: string | undefined): { host: string; entry: Entry } {
    let entry = rawHost === undefined ? undefined : this.table.get(rawHost);
    if (entry) return { host: rawHost!, entry };
    const host = normalizeHost(rawHost);
    entry = this.table.get(host);
    if (entry) return { host, entry };
    return { host, entry: errorEntry(404, `berth runtime: no DNS record for "${host}"`) };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const problem = requestHostProblem(req);
    if (problem) {
      const body = `berth runtime: bad request: ${problem}\n`;
      res.writeHead(400, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
      return;
    }
    const rawHost = req.headers.host;
    const { entry } = this.lookup(rawHost);
    if (!entry.ok) {
      res.writeHead(entry.status, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(entry.body),
      });
      res.end(entry.body);
      return;
    }
    const upstream = entry.upstreams[entry.next++ % entry.upstreams.length]!;
    if (entry.next > 1e9) entry.next = 0;
    const headers = req.headers as OutgoingHttpHeaders;
    delete headers['connection'];
    delete headers['keep-alive'];
    delete headers['proxy-connection'];
    delete headers['te'];
    const remote = req.socket.remoteAddress ?? '';
    const prior = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${remote}` : remote;
    headers['x-forwarded-host'] = rawHost;
    headers['x-forwarded-proto'] = 'http';
    const bodyless =
      (req.method === 'GET' || req.method === 'HEAD') &&
      headers['content-length'] === undefined &&
      headers['transfer-encoding'] === undefined;
    this.forward(req, res, entry, upstream, headers, bodyless, 0);
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    entry: OkEntry,
    upstream: Upstream,
    headers: OutgoingHttpHeaders,
    bodyless: boolean,
    attempt: number,
  ): void {
    const preq = request({
      host: '127.0.0.1',
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent: this.agent,
    });
    preq.on('response', (ures: IncomingMessage) => {
      const raw = ures.rawHeaders;
      const out: string[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!;
        if (HOP_BY_HOP.has(name.toLowerCase())) continue;
        out.push(name, raw[i + 1]!);
      }
      res.writeHead(ures.statusCode ?? 502, ures.statusMessage, out);
      ures.pipe(res);
      ures.on('error', () => res.destroy());
    });
    preq.on('error', (error: NodeJS.ErrnoException) => {
      if (bodyless && attempt < 2 && !res.headersSent && !res.destroyed) {
        if (preq.reusedSocket && error.code === 'ECONNRESET') {
          // a pooled connection the replica had just closed: try once more on a fresh one
          this.forward(req, res, entry, upstream, headers, bodyless, attempt + 1);
          return;
        }
        if (error.code === 'ECONNREFUSED' && entry.upstreams.length > 1) {
          // the replica just died (the supervisor has not seen its exit yet): use another one
          const next = entry.upstreams[entry.next++ % entry.upstreams.length]!;
          this.forward(req, res, entry, next, headers, bodyless, attempt + 1);
          return;
        }
      }
      if (!res.headersSent) {
        const body = `berth runtime: bad gateway: replica ${upstream.index} of service ${entry.service} (127.0.0.1:${upstream.port}) failed: ${error.code ?? error.message}\n`;
        res.writeHead(502, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      } else {
        res.destroy();
      }
    });
    res.once('close', () => {
      if (!res.writableFinished) preq.destroy();
    });
    if (bodyless) preq.end();
    else req.pipe(preq);
  }

  /** WebSocket and other Upgrade requests: hand the client socket to a raw connection to the replica. */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const rawHost = req.headers.host;
    const { entry } = this.lookup(rawHost);
    socket.on('error', () => socket.destroy());
    if (requestHostProblem(req)) {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    if (!entry.ok) {
      socket.end(
        `HTTP/1.1 ${entry.status} ${entry.status === 404 ? 'Not Found' : 'Service Unavailable'}\r\n` +
          `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(entry.body)}\r\nconnection: close\r\n\r\n${entry.body}`,
      );
      return;
    }
    const target = entry.upstreams[entry.next++ % entry.upstreams.length]!;
    const upstream = connect({ host: '127.0.0.1', port: target.port, noDelay: true });
    let connected = false;
    upstream.on('connect', () => {
      connected = true;
      let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!.toLowerCase();
        if (name === 'x-forwarded-for' || name === 'x-forwarded-host' || name === 'x-forwarded-proto')
          continue;
        text += `${raw[i]}: ${raw[i + 1]}\r\n`;
      }
      const prior = req.headers['x-forwarded-for'];
      const remote = socket.remoteAddress ?? '';
      text += `x-forwarded-for: ${prior ? `${String(prior)}, ${remote}` : remote}\r\n`;
      text += `x-forwarded-host: ${rawHost ?? ''}\r\nx-forwarded-proto: http\r\n\r\n`;
      upstream.write(text);
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected && socket.writable) {
        const body = `berth runtime: bad gateway: replica ${target.index} of service ${entry.service} failed: ${error.code ?? error.message}\n`;
        socket.end(
          `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      } else {
        socket.destroy();
      }
    });
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  }
}
