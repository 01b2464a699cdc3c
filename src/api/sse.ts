/**
 * Server-sent events: a stream of stored events from a cursor (Last-Event-ID or ?after=), each
 * sent with its seq as id, so a client that reconnects continues exactly where it stopped. New
 * events are picked up at once when this process stored them, else by polling the store (other
 * writers: direct-mode CLIs, other control planes).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventEmitter } from 'node:events';
import type { EventQuery, EventRecord, StateStore } from '../state/store.js';
import { hideEnvValues, seesEnvValues } from './redact.js';

const POLL_MS = 250;
const KEEPALIVE_MS = 15_000;

/** Open streams, ended when the server closes (an open stream would keep it from closing). */
export class StreamRegistry {
  private readonly open = new Set<() => void>();

  add(end: () => void): () => void {
    this.open.add(end);
    return () => this.open.delete(end);
  }

  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}

/** The cursor a client asks for: Last-Event-ID wins over ?after=; undefined when neither. */
export function requestedCursor(request: FastifyRequest, after: number | undefined): number | undefined {
  const header = request.headers['last-event-id'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && /^\d+$/.test(value.trim())) return Number(value.trim());
  return after;
}

export function wantsStream(request: FastifyRequest, follow: boolean | undefined): boolean {
  return Boolean(follow) || String(request.headers.accept ?? '').includes('text/event-stream');
}

export interface StreamOptions {
  store: StateStore;
  bus: EventEmitter;
  streams: StreamRegistry;
  query: Omit<EventQuery, 'afterSeq' | 'limit'>;
  cursor: number;
  /** Only these events are sent (the cursor still moves past the others). */
  filter?: (event: EventRecord) => boolean;
  /**
   * Asked after each batch: a final message ends the stream once the cursor has reached
   * `afterSeq` (everything the client must see before it was sent).
   */
  finish?: () => Promise<{ afterSeq: number; event: string; data: unknown } | null>;
}

/** Streams events until the client goes away, the server closes, or `finish` says so. */
export async function streamEvents(request: FastifyRequest, reply: FastifyReply, options: StreamOptions) {
  reply.hijack();
  const hideEnv = !seesEnvValues(request);
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-content-type-options': 'nosniff',
    'x-accel-buffering': 'no',
  });
  raw.write(': berth event stream\nretry: 1000\n\n');
  let closed = false;
  let wake: () => void = () => undefined;
  const end = () => {
    if (closed) return;
    closed = true;
    wake();
    raw.end();
  };
  const unregister = options.streams.add(end);
  request.raw.on('close', end);
  raw.on('close', end);
  const onEvent = () => wake();
  options.bus.on('event', onEvent);
  options.bus.on('job', onEvent);
  const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
  let cursor = options.cursor;
  try {
    while (!closed) {
      // The final message first: every event it covers is then stored before the listing.
      const final = options.finish ? await options.finish() : null;
      const batch = await options.store.listEvents({ ...options.query, afterSeq: cursor, limit: 500 });
      for (const event of batch) {
        if (closed) break;
        if (final && event.seq > final.afterSeq) break;
        cursor = event.seq;
        if (options.filter && !options.filter(event)) continue;
        const shown = hideEnv ? hideEnvValues(event) : event;
        raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(shown)}\n\n`);
      }
      if (final && (cursor >= final.afterSeq || batch.every((event) => event.seq > final.afterSeq))) {
        if (!closed) raw.write(`event: ${final.event}\ndata: ${JSON.stringify(final.data)}\n\n`);
        break;
      }
      if (batch.length === 500) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    clearInterval(keepalive);
    options.bus.off('event', onEvent);
    options.bus.off('job', onEvent);
    unregister();
    end();
  }
}
