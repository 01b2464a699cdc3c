/**
 * The proxy's fast path: HTTP/1.1 proxying over raw sockets with a minimal request/response framer,
 * instead of node:http's server + client (which cost ~5x a hello-world replica per request).
 *
 * Each client request is still routed on its own (Host lookup, round-robin over the replicas that
 * receive traffic, x-forwarded-* headers), sent on a pooled keep-alive connection to the replica,
 * and its response is streamed back as it arrives. Anything unusual (Upgrade, Expect, HTTP/1.0,
 * malformed or oversized heads, hosts that answer with an error) is handed, at a request boundary,
 * to the node:http server of proxy.ts, which then serves that connection to its end.
 */
import { connect, type Socket } from 'node:net';
import { hostOfHeader } from '../spec/hostnames.js';

export interface FastUpstream {
  port: number;
  index: number;
}
export interface FastEntry {
  ok: true;
  service: string;
  upstreams: FastUpstream[];
  next: number;
}

export interface FastContext {
  /** The routable entry for this raw Host value, or null to let the node:http path answer. */
  lookup(rawHost: string): FastEntry | null;
  /** Give the connection to the node:http server (`pending` = bytes already read, unparsed). */
  handoff(socket: Socket, pending: Buffer | null): void;
  readonly pool: UpstreamPool;
  readonly keepAliveTimeoutMs: number;
  /** How long a client may take to send a complete request head (from its first byte, or from connecting). */
  readonly headersTimeoutMs: number;
}

const CRLFCRLF = '\r\n\r\n';
const MAX_HEAD = 16 * 1024;
/** Idle upstream connections older than this are not reused (Node's servers close them at 5 s). */
const UPSTREAM_IDLE_MS = 4000;

/** Body framing of one message: tracks where it ends in a byte stream. */
class Framer {
  /** Bytes of chunk data (or of a length-delimited body) still expected. */
  private remaining: number;
  /** chunked: 0 size line, 1 data, 2 CRLF after data, 3 trailer lines; -1 length/close mode */
  private phase: number;
  private lineLength = 0;
  private sizeDone = false;
  private size = 0;
  private sawCr = false;
  done = false;

  constructor(
    readonly mode: 'length' | 'chunked' | 'close',
    length = 0,
  ) {
    this.remaining = length;
    this.phase = mode === 'chunked' ? 0 : -1;
    if (mode === 'length' && length === 0) this.done = true;
  }

  /** How many bytes of `buf` from `start` belong to this message (sets done at its end); -1: malformed. */
  consume(buf: Buffer, start: number): number {
    const len = buf.length - start;
    if (this.done) return 0;
    if (this.mode === 'close') return len;
    if (this.mode === 'length') {
      if (len < this.remaining) {
        this.remaining -= len;
        return len;
      }
      const n = this.remaining;
      this.remaining = 0;
      this.done = true;
      return n;
    }
    let i = start;
    const end = buf.length;
    while (i < end && !this.done) {
      if (this.phase === 1) {
        const take = Math.min(this.remaining, end - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.phase = 2;
        continue;
      }
      const c = buf[i++]!;
      if (this.phase === 2) {
        // CRLF after the chunk data
        if (c === 13 && !this.sawCr) this.sawCr = true;
        else if (c === 10 && this.sawCr) {
          this.sawCr = false;
          this.phase = 0;
        } else return -1;
        continue;
      }
      if (c === 10) {
        if (!this.sawCr) return -1;
        this.sawCr = false;
        if (this.phase === 0) {
          if (this.lineLength === 0) return -1;
          if (this.size === 0) {
            this.phase = 3;
            this.lineLength = 0;
          } else {
            this.remaining = this.size;
            this.phase = 1;
          }
          this.size = 0;
          this.sizeDone = false;
          this.lineLength = 0;
        } else {
          // trailer section: ends at an empty line
          if (this.lineLength === 0) this.done = true;
          this.lineLength = 0;
        }
        continue;
      }
      if (this.sawCr) return -1;
      if (c === 13) {
        this.sawCr = true;
        continue;
      }
      if (++this.lineLength > 4096) return -1;
      if (this.phase === 0 && !this.sizeDone) {
        const digit =
          c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
        if (digit >= 0) {
          this.size = this.size * 16 + digit;
          if (this.size > Number.MAX_SAFE_INTEGER / 16) return -1;
        } else if (c === 59 || c === 32 || c === 9) {
          this.sizeDone = true; // chunk extension or whitespace: ignored
          if (this.lineLength === 1) return -1;
        } else return -1;
      }
    }
    return i - start;
  }
}

/** A connection to a replica, owned by at most one client connection at a time. */
class Upstream {
  owner: ClientConnection | null = null;
  /** In the pool's free list (entries no longer in the pool are skipped there). */
  inPool = false;
  idleSince = 0;
  reused = false;
  error: NodeJS.ErrnoException | null = null;
  closed = false;
  readonly socket: Socket;

  constructor(
    readonly pool: UpstreamPool,
    readonly port: number,
  ) {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.owner) this.owner.onUpstreamData(this, chunk);
      else socket.destroy(); // data on an idle connection: not reusable
    });
    socket.on('drain', () => this.owner?.onUpstreamDrain());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error ??= error;
    });
    socket.on('end', () => {
      if (this.owner) this.owner.onUpstreamEnd(this);
      else socket.destroy();
    });
    socket.on('close', () => {
      this.closed = true;
      this.pool.forget(this);
      this.owner?.onUpstreamClose(this);
    });
  }
}

/** Idle keep-alive connections to replicas, per port, most recently used first. */
export class UpstreamPool {
  private readonly free = new Map<number, Upstream[]>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), UPSTREAM_IDLE_MS / 2);
    this.sweeper.unref();
  }

  /**
   * An idle connection to this port (`preferred`, the one the client used last, when it is idle),
   * else a new one.
   */
  acquire(port: number, fresh: boolean, preferred: Upstream | null): Upstream {
    if (!fresh) {
      const now = Date.now();
      if (
        preferred !== null &&
        preferred.inPool &&
        preferred.port === port &&
        !preferred.closed &&
        preferred.socket.readable &&
        now - preferred.idleSince < UPSTREAM_IDLE_MS
      ) {
        preferred.inPool = false; // left in its list, skipped there
        preferred.reused = true;
        return preferred;
      }
      const list = this.free.get(port);
      if (list) {
        let up: Upstream | undefined;
        while ((up = list.pop())) {
          if (!up.inPool) continue;
          up.inPool = false;
          if (
            !up.closed &&
            !up.socket.destroyed &&
            up.socket.readable &&
            now - up.idleSince < UPSTREAM_IDLE_MS
          ) {
            up.reused = true;
            return up;
          }
          up.socket.destroy();
        }
      }
    }
    return new Upstream(this, port);
  }

  release(up: Upstream): void {
    up.owner = null;
    if (up.closed || up.socket.destroyed) return;
    up.idleSince = Date.now();
    let list = this.free.get(up.port);
    if (!list) this.free.set(up.port, (list = []));
    if (list.length > 64) {
      const live = list.filter((u) => u.inPool);
      list.length = 0;
      list.push(...live);
    }
    up.inPool = true;
    list.push(up);
  }

  forget(up: Upstream): void {
    up.inPool = false;
  }

  /** Close idle connections to ports that no longer receive traffic. */
  retain(ports: Set<number>): void {
    for (const [port, list] of this.free) {
      if (ports.has(port)) continue;
      this.free.delete(port);
      for (const up of list) if (up.inPool) up.socket.destroy();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [port, list] of this.free) {
      const live = list.filter((up) => up.inPool);
      for (const up of live) if (now - up.idleSince >= UPSTREAM_IDLE_MS) up.socket.destroy();
      const kept = live.filter((up) => up.inPool);
      if (kept.length) this.free.set(port, kept);
      else this.free.delete(port);
    }
  }

  destroy(): void {
    clearInterval(this.sweeper);
    for (const list of this.free.values()) for (const up of list) if (up.inPool) up.socket.destroy();
    this.free.clear();
  }
}

const enum State {
  Idle,
  Request,
  Pipe,
  Gone,
}

/** Parse the response head's framing headers; null when malformed. */
function parseResponseHead(head: string): {
  status: number;
  http11: boolean;
  length: number;
  chunked: boolean;
  close: boolean;
  keepAlive: boolean;
  hasConnection: boolean;
} | null {
  const lineEnd = head.indexOf('\r\n');
  const statusLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  if (!statusLine.startsWith('HTTP/1.') || (statusLine.charCodeAt(12) !== 32 && statusLine.length !== 12))
    return null;
  const http11 = statusLine.charCodeAt(7) === 49;
  const status = Number(statusLine.slice(9, 12));
  if (!Number.isInteger(status) || status < 100) return null;
  let length = -1;
  let chunked = false;
  let close = false;
  let keepAlive = false;
  let hasConnection = false;
  let pos = lineEnd < 0 ? head.length : lineEnd + 2;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end < 0) end = head.length;
    const colon = head.indexOf(':', pos);
    if (colon > pos && colon < end) {
      const nameLength = colon - pos;
      if (nameLength === 14 || nameLength === 17 || nameLength === 10) {
        const name = head.slice(pos, colon).toLowerCase();
        const value = head
          .slice(colon + 1, end)
          .trim()
          .toLowerCase();
        if (name === 'content-length') {
          if (!/^\d+$/.test(value) || (length >= 0 && Number(value) !== length)) return null;
          length = Number(value);
        } else if (name === 'transfer-encoding') {
          if (value === 'chunked' || value.endsWith(',chunked') || value.endsWith(', chunked'))
            chunked = true;
          else return null;
        } else if (name === 'connection') {
          hasConnection = true;
          for (const token of value.split(',')) {
            const t = token.trim();
            if (t === 'close') close = true;
            else if (t === 'keep-alive') keepAlive = true;
          }
        }
      }
    }
    pos = end + 2;
  }
  return { status, http11, length, chunked, close, keepAlive, hasConnection };
}

/** The response head without Connection / Keep-Alive lines, plus `extra` lines. */
function rewriteResponseHead(head: string, extra: string): string {
  const lineEnd = head.indexOf('\r\n');
  let out = head.slice(0, lineEnd + 2);
  let pos = lineEnd + 2;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end < 0) end = head.length;
    const colon = head.indexOf(':', pos);
    const name = colon > pos && colon < end ? head.slice(pos, colon).toLowerCase() : '';
    if (name !== 'connection' && name !== 'keep-alive') out += `${head.slice(pos, end)}\r\n`;
    pos = end + 2;
  }
  return `${out}${extra}\r\n`;
}

function badGateway(entry: FastEntry, target: FastUpstream, code: string, close: boolean): string {
  const body = `berth runtime: bad gateway: replica ${target.index} of service ${entry.service} (127.0.0.1:${target.port}) failed: ${code}\n`;
  return (
    `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `${close ? 'connection: close\r\n' : ''}\r\n${body}`
  );
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';

/** True when `buf` has a line feed not preceded by a carriage return (lines must end in CRLF). */
function hasBareLf(buf: Buffer, end: number): boolean {
  let i = buf.indexOf(10);
  while (i >= 0 && i < end) {
    if (i === 0 || buf[i - 1] !== 13) return true;
    i = buf.indexOf(10, i + 1);
  }
  return false;
}

/**
 * For an absolute-form request target (`http://host:port/path`), whether its host is the Host
 * header's: a request must not be routed by one name and addressed to another.
 */
function absoluteTargetMatches(target: string, host: string): boolean {
  const scheme = target.indexOf('://');
  if (scheme < 0) return false;
  let end = target.indexOf('/', scheme + 3);
  if (end < 0) end = target.length;
  const query = target.indexOf('?', scheme + 3);
  if (query >= 0 && query < end) end = query;
  let authority = target.slice(scheme + 3, end);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  return authority.length > 0 && hostOfHeader(authority) === hostOfHeader(host);
}

/** One client connection on the fast path. */
export class ClientConnection {
  private state = State.Idle;
  private pending: Buffer | null = null;
  private closeAfter = false;
  private clientEnded = false;
  // the request in flight
  private entry: FastEntry | null = null;
  private target: FastUpstream | null = null;
  private up: Upstream | null = null;
  /** The upstream connection of the previous request: reused when idle and the replica is the same. */
  private lastUp: Upstream | null = null;
  private head = '';
  private method = '';
  private retryable = false;
  private attempt = 0;
  private reqFramer: Framer | null = null;
  private reqDone = false;
  // its response
  private resHead: Buffer | null = null;
  private resStarted = false;
  /** Bytes of this response already written to the client. */
  private resSent = false;
  private resFramer: Framer | null = null;
  private upstreamReusable = true;
  private pausedForUpstream = false;
  private pausedForResponse = false;

  private readonly onData = (chunk: Buffer) => this.clientData(chunk);
  private readonly onEnd = () => this.clientEnd();
  private readonly onClose = () => this.clientClose();
  private readonly onDrain = () => {
    if (this.up && this.state !== State.Gone) this.up.socket.resume();
  };
  private readonly onTimeout = () => {
    if (this.state === State.Idle) this.socket.destroy();
  };
  private readonly onError = () => {};
  /** Armed while a request head is incomplete (and at connect): a head must arrive in time. */
  private headTimer: NodeJS.Timeout | null = null;
  private readonly onHeadDeadline = () => {
    this.headTimer = null;
    if (this.state !== State.Idle) return;
    this.state = State.Gone;
    this.pending = null;
    this.socket.end(REQUEST_TIMEOUT);
  };

  constructor(
    readonly socket: Socket,
    private readonly ctx: FastContext,
  ) {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('timeout', this.onTimeout);
    socket.setTimeout(ctx.keepAliveTimeoutMs);
    this.headTimer = setTimeout(this.onHeadDeadline, ctx.headersTimeoutMs);
  }

  private clearHeadDeadline(): void {
    if (this.headTimer !== null) {
      clearTimeout(this.headTimer);
      this.headTimer = null;
    }
  }

  /** Answer 400 and close: the request cannot be read safely. */
  private badRequest(): void {
    this.clearHeadDeadline();
    this.state = State.Gone;
    this.pending = null;
    this.socket.end(BAD_REQUEST);
  }

  private clientData(chunk: Buffer): void {
    switch (this.state) {
      case State.Idle:
        this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
        this.start();
        return;
      case State.Request:
        if (this.reqDone) {
          this.hold(chunk);
          return;
        }
        this.sendBody(chunk, 0);
        return;
      case State.Pipe:
        if (this.up && !this.up.socket.write(chunk)) this.pauseForUpstream();
        return;
      default:
        return;
    }
  }

  /** Bytes of the next request(s) while one is in flight: keep them and stop reading. */
  private hold(chunk: Buffer): void {
    this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    if (!this.pausedForResponse) {
      this.pausedForResponse = true;
      this.socket.pause();
    }
  }

  private pauseForUpstream(): void {
    if (this.pausedForUpstream) return;
    this.pausedForUpstream = true;
    this.socket.pause();
  }

  onUpstreamDrain(): void {
    if (this.pausedForUpstream) {
      this.pausedForUpstream = false;
      if (!this.pausedForResponse) this.socket.resume();
    }
  }

  private detach(): void {
    const s = this.socket;
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('close', this.onClose);
    s.off('drain', this.onDrain);
    s.off('error', this.onError);
    s.off('timeout', this.onTimeout);
    s.setTimeout(0);
    this.clearHeadDeadline();
  }

  private handoff(): void {
    const pending = this.pending;
    this.pending = null;
    this.state = State.Gone;
    this.detach();
    this.ctx.handoff(this.socket, pending);
  }

  /** Parse the request head in `pending` and send the request; hand off anything unusual. */
  private start(): void {
    const buf = this.pending!;
    const headEnd = buf.indexOf(CRLFCRLF);
    if (headEnd < 0) {
      // an incomplete head: refuse bare-LF line ends now (it would never complete), and give the
      // rest until the deadline (slow senders must not hold connections open for ever)
      if (hasBareLf(buf, buf.length)) return this.badRequest();
      if (buf.length > MAX_HEAD) return this.handoff();
      this.headTimer ??= setTimeout(this.onHeadDeadline, this.ctx.headersTimeoutMs);
      return;
    }
    this.clearHeadDeadline();
    const head = buf.toString('latin1', 0, headEnd);
    const lineEnd = head.indexOf('\r\n');
    const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
    const sp1 = requestLine.indexOf(' ');
    const sp2 = requestLine.indexOf(' ', sp1 + 1);
    if (requestLine.indexOf('\n') >= 0) return this.badRequest();
    if (
      sp1 <= 0 ||
      sp2 < 0 ||
      sp2 === sp1 + 1 ||
      requestLine.length !== sp2 + 9 ||
      !requestLine.endsWith(' HTTP/1.1')
    )
      return this.handoff();
    const method = requestLine.slice(0, sp1);
    if (!TOKEN.test(method)) return this.handoff();
    const target = requestLine.slice(sp1 + 1, sp2);
    if (target.indexOf(' ') >= 0 || target.indexOf('\t') >= 0) return this.handoff();

    let host: string | undefined;
    let length = -1;
    let chunked = false;
    let forwardedFor: string | undefined;
    let out = `${requestLine}\r\n`;
    let pos = lineEnd < 0 ? head.length : lineEnd + 2;
    while (pos < head.length) {
      let end = head.indexOf('\r\n', pos);
      if (end < 0) end = head.length;
      const colon = head.indexOf(':', pos);
      if (colon <= pos || colon > end) return this.handoff();
      const c0 = head.charCodeAt(pos);
      if (c0 === 32 || c0 === 9) return this.handoff(); // obs-fold
      const nameLength = colon - pos;
      let keep = true;
      switch (nameLength) {
        case 2:
        case 4:
        case 6:
        case 7:
        case 10:
        case 14:
        case 15:
        case 16:
        case 17: {
          const name = head.slice(pos, colon).toLowerCase();
          switch (name) {
            case 'host':
              if (host !== undefined) return this.badRequest(); // which one would be routed?
              host = head.slice(colon + 1, end).trim();
              break;
            case 'content-length': {
              const value = head.slice(colon + 1, end).trim();
              if (length >= 0 || !/^\d{1,15}$/.test(value)) return this.handoff();
              length = Number(value);
              break;
            }
            case 'transfer-encoding':
              if (
                chunked ||
                head
                  .slice(colon + 1, end)
                  .trim()
                  .toLowerCase() !== 'chunked'
              )
                return this.handoff();
              chunked = true;
              break;
            case 'connection': {
              const value = head.slice(colon + 1, end).toLowerCase();
              if (value.indexOf('upgrade') >= 0) return this.handoff();
              if (value.indexOf('close') >= 0) this.closeAfter = true;
              keep = false;
              break;
            }
            case 'upgrade':
            case 'expect':
              return this.handoff();
            case 'keep-alive':
            case 'proxy-connection':
            case 'te':
            case 'x-forwarded-host':
            case 'x-forwarded-proto':
              keep = false;
              break;
            case 'x-forwarded-for': {
              const value = head.slice(colon + 1, end).trim();
              forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
              keep = false;
              break;
            }
          }
          break;
        }
      }
      if (keep) {
        const line = head.slice(pos, end);
        if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) return this.badRequest();
        out += `${line}\r\n`;
      }
      pos = end + 2;
    }
    if (host === undefined || (chunked && length >= 0)) return this.handoff();
    if (target.charCodeAt(0) !== 47 /* / */ && target !== '*' && !absoluteTargetMatches(target, host))
      return this.badRequest();
    const entry = this.ctx.lookup(host);
    if (!entry) return this.handoff();

    const remote = this.socket.remoteAddress ?? '';
    out += `x-forwarded-for: ${forwardedFor ? `${forwardedFor}, ${remote}` : remote}\r\nx-forwarded-host: ${host}\r\nx-forwarded-proto: http\r\n\r\n`;

    this.state = State.Request;
    this.entry = entry;
    this.head = out;
    this.method = method;
    this.reqFramer = chunked ? new Framer('chunked') : length > 0 ? new Framer('length', length) : null;
    this.reqDone = this.reqFramer === null;
    this.retryable = this.reqDone && (method === 'GET' || method === 'HEAD');
    this.attempt = 0;
    this.resHead = null;
    this.resStarted = false;
    this.resSent = false;
    this.resFramer = null;
    this.upstreamReusable = true;
    this.pending = null;
    const upstreams = entry.upstreams;
    const next = entry.next++;
    if (entry.next > 1e9) entry.next = 0;
    this.target = upstreams[next % upstreams.length]!;
    this.send(false);
    const rest = headEnd + 4;
    if (rest < buf.length) {
      if (this.reqDone) this.hold(buf.subarray(rest));
      else this.sendBody(buf, rest);
    }
  }

  /** Write the request head to an upstream connection. */
  private send(fresh: boolean): void {
    const up = this.ctx.pool.acquire(this.target!.port, fresh, this.lastUp);
    this.lastUp = up;
    up.owner = this;
    up.error = null;
    this.up = up;
    up.socket.write(this.head, 'latin1');
  }

  private sendBody(buf: Buffer, start: number): void {
    const framer = this.reqFramer!;
    const n = framer.consume(buf, start);
    if (n < 0) {
      // malformed chunked body: nothing sensible can follow on this connection
      this.fail('bad request body', true);
      return;
    }
    if (n > 0 && this.up) {
      const piece = start === 0 && n === buf.length ? buf : buf.subarray(start, start + n);
      if (!this.up.socket.write(piece)) this.pauseForUpstream();
    }
    if (framer.done) {
      this.reqDone = true;
      if (start + n < buf.length) this.hold(buf.subarray(start + n));
      if (this.resFramer?.done) this.finish();
    }
  }

  onUpstreamData(up: Upstream, chunk: Buffer): void {
    if (up !== this.up) return;
    if (this.state === State.Pipe) {
      if (!this.socket.write(chunk)) up.socket.pause();
      return;
    }
    if (this.resFramer === null) {
      this.resStarted = true;
      let buf = this.resHead ? Buffer.concat([this.resHead, chunk]) : chunk;
      for (;;) {
        const headEnd = buf.indexOf(CRLFCRLF);
        if (headEnd < 0) {
          if (buf.length > MAX_HEAD) return this.fail('response head too large', false);
          this.resHead = buf;
          return;
        }
        this.resHead = null;
        const head = buf.toString('latin1', 0, headEnd);
        const info = parseResponseHead(head);
        if (!info) return this.fail('malformed response', false);
        if (info.status === 101) {
          // an upgrade we did not ask for: from here on, pass bytes through
          this.state = State.Pipe;
          this.resSent = true;
          this.socket.setTimeout(0);
          if (!this.socket.write(buf)) up.socket.pause();
          if (this.pending) {
            const p = this.pending;
            this.pending = null;
            up.socket.write(p);
          }
          this.pausedForResponse = false;
          this.socket.resume();
          return;
        }
        if (info.status < 200) {
          // informational (103 Early Hints...): forward, then the real response follows
          this.resSent = true;
          this.socket.write(buf.subarray(0, headEnd + 4));
          buf = buf.subarray(headEnd + 4);
          if (buf.length === 0) return;
          continue;
        }
        let framer: Framer;
        if (this.method === 'HEAD' || info.status === 204 || info.status === 304)
          framer = new Framer('length', 0);
        else if (info.chunked) framer = new Framer('chunked');
        else if (info.length >= 0) framer = new Framer('length', info.length);
        else framer = new Framer('close');
        this.resFramer = framer;
        if (!info.http11 || info.close || framer.mode === 'close') this.upstreamReusable = false;
        if (framer.mode === 'close') this.closeAfter = true;
        // the client connection stays open unless the client or the framing needs it closed
        const rewrite = this.closeAfter ? !info.close : info.close;
        const bodyStart = headEnd + 4;
        if (rewrite || !info.http11) {
          const newHead = rewriteResponseHead(
            info.http11 ? head : `HTTP/1.1${head.slice(8)}`,
            this.closeAfter ? 'connection: close\r\n' : '',
          );
          this.resSent = true;
          this.socket.cork();
          this.socket.write(newHead, 'latin1');
          this.body(up, buf, bodyStart, false);
          this.socket.uncork();
        } else {
          this.body(up, buf, bodyStart, true);
        }
        return;
      }
    }
    this.body(up, chunk, 0, false);
  }

  /** Forward response bytes from `start` (or from 0 when `withHead`) up to the end of the response. */
  private body(up: Upstream, buf: Buffer, start: number, withHead: boolean): void {
    const framer = this.resFramer!;
    const n = framer.consume(buf, start);
    if (n < 0) return this.fail('malformed chunked response', false);
    const from = withHead ? 0 : start;
    const to = start + n;
    if (to > from) {
      this.resSent = true;
      const piece = from === 0 && to === buf.length ? buf : buf.subarray(from, to);
      if (!this.socket.write(piece)) up.socket.pause();
    }
    if (framer.done) {
      if (to < buf.length) this.upstreamReusable = false; // bytes after the response: not reusable
      if (this.reqDone) this.finish();
      else {
        // answered before the request body was read: close the client after this response
        this.upstreamReusable = false;
        this.closeAfter = true;
        this.finish();
      }
    }
  }

  /** The response is complete: free the upstream, then serve the next request or close. */
  private finish(): void {
    const up = this.up!;
    this.up = null;
    if (this.upstreamReusable && this.reqDone) {
      if (up.socket.isPaused()) up.socket.resume();
      this.ctx.pool.release(up);
    } else {
      up.owner = null;
      up.socket.destroy();
    }
    this.entry = null;
    this.reqFramer = null;
    this.resFramer = null;
    if (this.pausedForUpstream) this.pausedForUpstream = false;
    if (this.closeAfter || this.clientEnded) {
      this.state = State.Gone;
      this.socket.end();
      return;
    }
    this.state = State.Idle;
    if (this.pausedForResponse) {
      this.pausedForResponse = false;
      this.socket.resume();
    }
    if (this.pending) this.start();
  }

  onUpstreamEnd(up: Upstream): void {
    if (up !== this.up) return;
    if (this.state === State.Pipe) {
      this.socket.end();
      return;
    }
    if (this.resFramer?.mode === 'close') {
      this.resFramer.done = true;
      this.upstreamReusable = false;
      this.closeAfter = true;
      this.finish();
      return;
    }
    up.socket.destroy(); // 'close' decides
  }

  onUpstreamClose(up: Upstream): void {
    if (up !== this.up) return;
    if (this.state === State.Pipe) {
      this.socket.destroy();
      return;
    }
    this.up = null;
    const code = up.error?.code ?? 'ECONNRESET';
    if (!this.resStarted && this.retryable && this.attempt < 2 && this.state === State.Request) {
      if (up.reused && code !== 'ECONNREFUSED') {
        // a pooled connection the replica had just closed: try once more on a fresh one
        this.attempt++;
        this.send(true);
        return;
      }
      if (code === 'ECONNREFUSED' && this.entry!.upstreams.length > 1) {
        // the replica just died (the supervisor has not seen its exit yet): use another one
        this.attempt++;
        const upstreams = this.entry!.upstreams;
        this.target = upstreams[this.entry!.next++ % upstreams.length]!;
        this.send(false);
        return;
      }
    }
    this.fail(code, false); // 502, or the response is cut short
  }

  /** Answer 502 when nothing was sent to the client yet, else cut the connection. */
  private fail(reason: string, badRequest: boolean): void {
    const up = this.up;
    this.up = null;
    if (up) {
      up.owner = null;
      up.socket.destroy();
    }
    if (this.state === State.Gone) return;
    if (badRequest) {
      this.state = State.Gone;
      this.socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    if (this.resSent || !this.entry || !this.target) {
      this.state = State.Gone;
      this.socket.destroy();
      return;
    }
    const close = !this.reqDone || this.closeAfter || this.clientEnded;
    this.socket.write(badGateway(this.entry, this.target, reason, close));
    this.entry = null;
    this.reqFramer = null;
    this.resFramer = null;
    this.pausedForUpstream = false;
    if (close) {
      this.state = State.Gone;
      this.socket.end();
      return;
    }
    this.state = State.Idle;
    if (this.pausedForResponse) {
      this.pausedForResponse = false;
      this.socket.resume();
    }
    if (this.pending) this.start();
  }

  private clientEnd(): void {
    this.clientEnded = true;
    if (this.state === State.Idle) {
      if (this.pending) this.start();
      if (this.state === State.Idle) {
        this.state = State.Gone;
        this.socket.end();
      }
      return;
    }
    if (this.state === State.Pipe) {
      this.up?.socket.end();
      return;
    }
    if (this.state === State.Request && !this.reqDone) {
      // the request body was cut short
      this.fail('client closed', false);
    }
  }

  private clientClose(): void {
    this.clearHeadDeadline();
    const up = this.up;
    this.state = State.Gone;
    this.up = null;
    if (up) {
      up.owner = null;
      up.socket.destroy();
    }
  }
}
