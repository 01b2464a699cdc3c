import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { newId } from '../core/ids.js';
import { matchesTags } from '../core/tags.js';
import { replicaLogPath, type RuntimePaths } from './paths.js';
import type { RuntimeStore, StoredMap, StoredService } from './store.js';
import type { Supervisor } from './supervisor.js';
import {
  RUNTIME_ID_PREFIX,
  RUNTIME_KINDS,
  type ReplicaHealthConfig,
  type RuntimeInfo,
  type RuntimeKind,
  type RuntimeLogs,
  type RuntimeResource,
  type RuntimeRoute,
  type RuntimeService,
} from './types.js';
import { describeOwner, normalizeHostname } from '../spec/hostnames.js';
import { routeOwner, routeOwnerKey } from './route-owner.js';
import { parseCreate, parsePatch, parseTagQuery, ValidationError } from './validate.js';
import { ActivityLog } from './activity.js';
import { diskFailureReason } from '../core/storage-errors.js';
import { LocalSecretStore, type SecretRef } from './secret-store.js';

export interface ConsoleDeps {
  store: RuntimeStore;
  supervisor: Supervisor;
  paths: RuntimePaths;
  token: string;
  info: () => RuntimeInfo;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function isKind(kind: string): kind is RuntimeKind {
  return (RUNTIME_KINDS as readonly string[]).includes(kind);
}

function fail(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send({ error, message });
}

/** Read the last `lines` lines of a file (up to the last 2 MB of it). */
export async function tailLines(path: string, lines: number): Promise<string[]> {
  if (lines <= 0 || !existsSync(path)) return [];
  const size = statSync(path).size;
  const length = Math.min(size, 2 * 1024 * 1024);
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    if (length < size) all.shift(); // a partial first line
    return all.slice(-lines);
  } finally {
    await handle.close();
  }
}

/** The console: the runtime's HTTP API (see types.ts), loopback only, bearer token. */
export function buildConsole(deps: ConsoleDeps): FastifyInstance {
  const { store, supervisor, paths } = deps;
  const secretStore = new LocalSecretStore(paths.secrets);
  const tokenDigest = digest(deps.token);
  const activity = new ActivityLog(paths.activity);
  const actorOf = (request: { headers: Record<string, unknown> }) => {
    const actor = request.headers['x-berth-actor'];
    return typeof actor === 'string' && actor.length > 0 && actor.length <= 100 ? actor : 'console';
  };
  const labelOf = (item: Record<string, unknown>) =>
    (item.name as string | undefined) ?? (item.host as string | undefined) ?? null;
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof ValidationError) {
      return reply.code(400).send({
        error: 'invalid_input',
        message: `invalid input: ${error.message}`,
        details: error.problems,
      });
    }
    const disk = diskFailureReason(error);
    if (disk) {
      // Nothing was changed (the store puts its state back when it cannot save it).
      return reply
        .code(507)
        .send({ error: 'insufficient_storage', message: `the local runtime cannot save its state: ${disk}` });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'invalid_input', message: error.message });
    }
    return reply.code(500).send({ error: 'internal', message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    fail(reply, 404, 'not_found', `no such endpoint: ${request.method} ${request.url}`),
  );

  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/v1/ping') return;
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!given || !timingSafeEqual(digest(given), tokenDigest)) {
      return fail(
        reply,
        401,
        'unauthorized',
        'missing or wrong console token (send "Authorization: Bearer <token>" with the token from <data dir>/runtime/console.token)',
      );
    }
  });

  const present = (kind: RuntimeKind, item: StoredMap[RuntimeKind]): RuntimeResource => {
    if (kind === 'services') {
      const service = item as StoredService;
      return { ...service, replicaStatus: supervisor.status(service.id) } satisfies RuntimeService;
    }
    return { ...item } as RuntimeResource;
  };

  const kindOf = (raw: string, reply: FastifyReply): RuntimeKind | null => {
    if (isKind(raw)) return raw;
    void fail(reply, 404, 'not_found', `unknown kind "${raw}" (kinds: ${RUNTIME_KINDS.join(', ')})`);
    return null;
  };

  const checkReferences = (kind: RuntimeKind, data: Record<string, unknown>, selfId: string | null) => {
    if (kind === 'services' && typeof data.name === 'string') {
      const clash = store.list('services').find((s) => s.name === data.name && s.id !== selfId);
      if (clash)
        return { status: 409, message: `a service named "${data.name}" already exists (${clash.id})` };
    }
    if (kind === 'services' && data.secrets) {
      // Like ECS refusing a task whose secret does not exist: say so now, not at each restart.
      const { missing } = secretStore.resolve(data.secrets as Record<string, SecretRef>);
      if (missing.length > 0)
        return { status: 400, message: `invalid input: secrets not set: ${missing.join(', ')}` };
    }
    if (kind === 'routes' && typeof data.serviceId === 'string' && !store.get('services', data.serviceId)) {
      return { status: 400, message: `invalid input: serviceId: no service with id "${data.serviceId}"` };
    }
    return null;
  };

  /**
   * One owner per routed host name: a route for a name that another owner's route holds is
   * refused, whoever asks, so that no service ever receives another one's traffic.
   */
  const checkHostOwner = (route: { id: string; host: string; tags: Record<string, string> }) => {
    const host = normalizeHostname(route.host);
    const key = routeOwnerKey(route);
    const holder = store
      .list('routes')
      .find(
        (other) =>
          other.id !== route.id && normalizeHostname(other.host) === host && routeOwnerKey(other) !== key,
      );
    if (!holder) return null;
    return {
      status: 409,
      message: `${host} belongs to ${describeOwner(routeOwner(holder))} (route ${holder.id}); a host name is routed to one service only`,
    };
  };

  // The change feed: a counter bumped on every resource mutation, and a long poll on it, so that
  // a reconciler hears of a change made behind its back at once instead of at its next resync.
  let version = 0;
  const waiters = new Set<() => void>();
  store.on('change', () => {
    version += 1;
    for (const wake of [...waiters]) wake();
  });

  app.get<{ Querystring: { after?: string; waitMs?: string } }>('/v1/changes', async (request) => {
    const after = Number(request.query.after ?? 0);
    const waitMs = Math.min(Math.max(Number(request.query.waitMs ?? 25_000) || 0, 0), 60_000);
    // after > version: the client saw an earlier life of this runtime; answer at once.
    if (after === version && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, waitMs);
        waiters.add(wake);
        request.raw.once('close', wake);
      });
    }
    return { version };
  });

  app.get('/v1/ping', async () => ({ ok: true }));
  app.get<{ Querystring: { since?: string; until?: string; tag?: string | string[] } }>(
    '/v1/activity',
    async (request) => {
      const since = request.query.since ?? new Date(0).toISOString();
      const until = request.query.until ?? new Date().toISOString();
      return { items: activity.list({ since, until }, parseTagQuery(request.query.tag)) };
    },
  );
  app.get('/v1/info', async () => deps.info());

  app.get<{ Params: { kind: string }; Querystring: { tag?: string | string[] } }>(
    '/v1/:kind',
    async (request, reply) => {
      const kind = kindOf(request.params.kind, reply);
      if (!kind) return reply;
      const filter = parseTagQuery(request.query.tag);
      const items = store
        .list(kind)
        .filter((item) => matchesTags(item.tags, filter))
        .map((item) => present(kind, item));
      return { items };
    },
  );

  app.get<{ Params: { kind: string; id: string } }>('/v1/:kind/:id', async (request, reply) => {
    const kind = kindOf(request.params.kind, reply);
    if (!kind) return reply;
    const item = store.get(kind, request.params.id);
    if (!item) return fail(reply, 404, 'not_found', `no ${kind} resource with id "${request.params.id}"`);
    return present(kind, item);
  });

  app.post<{ Params: { kind: string } }>('/v1/:kind', async (request, reply) => {
    const kind = kindOf(request.params.kind, reply);
    if (!kind) return reply;
    const data = parseCreate(kind, request.body);
    const problem =
      checkReferences(kind, data, null) ??
      (kind === 'routes'
        ? checkHostOwner({ id: '', host: data.host as string, tags: data.tags as Record<string, string> })
        : null);
    if (problem)
      return fail(
        reply,
        problem.status,
        problem.status === 409 ? 'conflict' : 'invalid_input',
        problem.message,
      );
    const now = new Date().toISOString();
    const item = { ...data, id: newId(RUNTIME_ID_PREFIX[kind]), createdAt: now, updatedAt: now } as Record<
      string,
      unknown
    >;
    if (kind === 'healthchecks')
      Object.assign(item, { status: 'unknown', lastCheckedAt: null, lastError: null });
    store.put(kind, item as unknown as StoredMap[typeof kind]);
    activity.record({
      actor: actorOf(request),
      action: 'create',
      kind,
      id: item.id as string,
      name: labelOf(item),
      tags: (item.tags as Record<string, string>) ?? {},
      detail: null,
    });
    return reply.code(201).send(present(kind, item as unknown as StoredMap[typeof kind]));
  });

  app.patch<{ Params: { kind: string; id: string } }>('/v1/:kind/:id', async (request, reply) => {
    const kind = kindOf(request.params.kind, reply);
    if (!kind) return reply;
    const existing = store.get(kind, request.params.id);
    if (!existing) return fail(reply, 404, 'not_found', `no ${kind} resource with id "${request.params.id}"`);
    const patch = parsePatch(kind, request.body ?? {});
    const problem =
      checkReferences(kind, patch, existing.id) ??
      (kind === 'routes' ? checkHostOwner({ ...(existing as RuntimeRoute), ...patch }) : null);
    if (problem)
      return fail(
        reply,
        problem.status,
        problem.status === 409 ? 'conflict' : 'invalid_input',
        problem.message,
      );
    if (kind === 'services' && patch.health) {
      patch.health = {
        ...(existing as StoredService).health,
        ...(patch.health as Partial<ReplicaHealthConfig>),
      };
    }
    const updated = { ...existing, ...patch, updatedAt: new Date().toISOString() } as StoredMap[typeof kind];
    store.put(kind, updated);
    activity.record({
      actor: actorOf(request),
      action: 'update',
      kind,
      id: existing.id,
      name: labelOf(updated as unknown as Record<string, unknown>),
      tags: (updated as unknown as { tags?: Record<string, string> }).tags ?? {},
      detail: `changed ${Object.keys(patch).join(', ')}`,
    });
    return present(kind, updated);
  });

  app.delete<{ Params: { kind: string; id: string } }>('/v1/:kind/:id', async (request, reply) => {
    const kind = kindOf(request.params.kind, reply);
    if (!kind) return reply;
    const existing = store.get(kind, request.params.id) as unknown as Record<string, unknown> | undefined;
    if (!existing || !store.remove(kind, request.params.id)) {
      return fail(reply, 404, 'not_found', `no ${kind} resource with id "${request.params.id}"`);
    }
    activity.record({
      actor: actorOf(request),
      action: 'delete',
      kind,
      id: request.params.id,
      name: labelOf(existing),
      tags: (existing.tags as Record<string, string>) ?? {},
      detail: null,
    });
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string; index: string }; Body: { signal?: string } | undefined }>(
    '/v1/services/:id/replicas/:index/kill',
    async (request, reply) => {
      const service = store.get('services', request.params.id);
      if (!service)
        return fail(reply, 404, 'not_found', `no services resource with id "${request.params.id}"`);
      const index = Number(request.params.index);
      const signal = request.body?.signal ?? 'SIGKILL';
      if (signal !== 'SIGKILL' && signal !== 'SIGTERM') {
        throw new ValidationError([`signal: must be "SIGKILL" or "SIGTERM", not ${JSON.stringify(signal)}`]);
      }
      if (!Number.isInteger(index) || index < 0)
        throw new ValidationError([`replica index must be a whole number`]);
      const result = supervisor.kill(service.id, index, signal);
      if (result === 'no-replica') {
        return fail(
          reply,
          404,
          'not_found',
          `service ${service.name} has no replica ${index} (it has ${service.replicas})`,
        );
      }
      if (result === 'not-running') {
        return fail(
          reply,
          409,
          'conflict',
          `replica ${index} of service ${service.name} is not running right now`,
        );
      }
      activity.record({
        actor: actorOf(request),
        action: 'kill',
        kind: 'services',
        id: service.id,
        name: service.name,
        tags: service.tags,
        detail: `replica ${index} with ${signal}`,
      });
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: { lines?: string } }>(
    '/v1/services/:id/logs',
    async (request, reply) => {
      const service = store.get('services', request.params.id);
      if (!service)
        return fail(reply, 404, 'not_found', `no services resource with id "${request.params.id}"`);
      const lines = request.query.lines === undefined ? 100 : Number(request.query.lines);
      if (!Number.isInteger(lines) || lines < 0)
        throw new ValidationError(['lines: must be a whole number >= 0']);
      const count = Math.max(service.replicas, supervisor.status(service.id).length);
      // A replica that prints its own secret must not put it into berth's events and step reasons.
      const values = Object.values(secretStore.resolve(service.secrets ?? {}).values).filter(
        (v) => v.length >= 4,
      );
      const hideSecrets = (line: string) =>
        values.reduce((text, value) => text.split(value).join('********'), line);
      const replicas: RuntimeLogs['replicas'] = [];
      for (let index = 0; index < count; index++) {
        const tail = await tailLines(replicaLogPath(paths, service.name, index), lines);
        replicas.push({ index, lines: tail.map(hideSecrets) });
      }
      return { replicas } satisfies RuntimeLogs;
    },
  );

  return app;
}
