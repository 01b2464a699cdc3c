/** Operations with their steps, and events per environment, service and operation (JSON or SSE). */
import * as z from 'zod';
import { NotFoundError } from '../../core/errors.js';
import type { OperationOutcome } from '../../engine/engine.js';
import type { EventQuery, OperationRecord, StateStore } from '../../state/store.js';
import { lastSeq, type ControlPlane } from '../control-plane.js';
import { serviceEvents } from '../queries.js';
import { requestedCursor, streamEvents, wantsStream } from '../sse.js';
import type { ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';
import { eventSchema, eventsQuery, operationSchema, operationsQuery } from './schemas.js';

const eventResponses = {
  200: {
    description:
      'events, oldest first (JSON), or a live stream (text/event-stream, resumable with Last-Event-ID)',
    schema: z.array(eventSchema),
    stream: true,
  },
};

async function operationIn(store: StateStore, env: string, id: string): Promise<OperationRecord> {
  const operation = await store.getOperation(id);
  if (!operation || operation.env !== env) {
    throw new NotFoundError(`there is no operation "${id}" in ${env}`, {
      hint: `see operations with: berth history SERVICE --env ${env}`,
    });
  }
  return operation;
}

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/**
 * How a request that started `operation` ended: from the job when this process runs it, else
 * (the control plane restarted) from the store, once nothing is active for the service.
 */
async function outcomeOf(
  plane: ControlPlane,
  store: StateStore,
  operation: OperationRecord,
): Promise<{ afterSeq: number; event: string; data: unknown } | null> {
  const job = plane.jobs.get(operation.id);
  if (job) {
    if (!job.done) return null;
    return job.error
      ? { afterSeq: job.lastSeq, event: 'error', data: job.error }
      : { afterSeq: job.lastSeq, event: 'outcome', data: job.outcome };
  }
  const latest = (await store.getOperation(operation.id)) ?? operation;
  if (!TERMINAL.includes(latest.status)) return null;
  if (await store.getActiveOperation(latest.env, latest.service)) return null;
  const operations = await store.listOperations(latest.env, latest.service, 20);
  const rollback = operations.find((op) => op.params.after === latest.id) ?? null;
  const outcome: OperationOutcome = { operation: latest, rollback, resumed: null, urls: [] };
  return { afterSeq: await lastSeq(store, latest.env, latest.service), event: 'outcome', data: outcome };
}

export function eventRoutes({ plane, streams }: ApiContext): RouteDefinition[] {
  const list = async (store: StateStore, query: EventQuery, options: { after?: number; limit: number }) => {
    return store.listEvents({ ...query, afterSeq: options.after, limit: options.limit, newest: true });
  };
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/events',
      summary: 'events of an environment',
      tag: 'events',
      access: 'read',
      query: eventsQuery,
      responses: eventResponses,
      async handler({ params, query, request, reply }) {
        const store = await plane.store(params.env!);
        const base = { env: params.env!, since: query.since, until: query.until };
        if (!wantsStream(request, query.follow))
          return list(store, base, { after: query.after, limit: query.limit });
        const cursor =
          requestedCursor(request, query.after) ??
          (await store.listEvents({ ...base, limit: 1, newest: true })).at(-1)?.seq ??
          0;
        await streamEvents(request, reply, { store, bus: plane.bus, streams, query: base, cursor });
        return reply;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/services/:service/events',
      summary: 'events of a service',
      tag: 'events',
      access: 'read',
      query: eventsQuery,
      responses: eventResponses,
      async handler({ params, query, request, reply }) {
        const store = await plane.store(params.env!);
        const base = { env: params.env!, service: params.service!, since: query.since, until: query.until };
        if (!wantsStream(request, query.follow)) {
          if (query.after === undefined && !query.since && !query.until) {
            return serviceEvents(store, params.env!, params.service!, query.limit);
          }
          return list(store, base, { after: query.after, limit: query.limit });
        }
        const cursor =
          requestedCursor(request, query.after) ?? (await lastSeq(store, params.env!, params.service!));
        await streamEvents(request, reply, { store, bus: plane.bus, streams, query: base, cursor });
        return reply;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/operations',
      summary: 'operations, newest first (optionally of one service)',
      tag: 'operations',
      access: 'read',
      query: operationsQuery,
      responses: { 200: { description: 'operations with their steps', schema: z.array(operationSchema) } },
      async handler({ params, query }) {
        const store = await plane.store(params.env!);
        return store.listOperations(params.env!, query.service, query.limit);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/operations/:id',
      summary: 'one operation with its steps (status, times, attempts, reason)',
      tag: 'operations',
      access: 'read',
      responses: { 200: { description: 'the operation', schema: operationSchema } },
      async handler({ params }) {
        return operationIn(await plane.store(params.env!), params.env!, params.id!);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/operations/:id/events',
      summary: 'events of one operation',
      tag: 'events',
      access: 'read',
      query: eventsQuery,
      responses: eventResponses,
      async handler({ params, query, request, reply }) {
        const store = await plane.store(params.env!);
        await operationIn(store, params.env!, params.id!);
        const base = { env: params.env!, operationId: params.id!, since: query.since, until: query.until };
        if (!wantsStream(request, query.follow))
          return list(store, base, { after: query.after, limit: query.limit });
        const cursor = requestedCursor(request, query.after) ?? 0;
        await streamEvents(request, reply, { store, bus: plane.bus, streams, query: base, cursor });
        return reply;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/operations/:id/watch',
      summary:
        'follow what a request started: the events of its operations (a resumed one, the operation, an automatic return to the last healthy revision), then an `outcome` (or `error`) event',
      tag: 'operations',
      access: 'read',
      query: eventsQuery,
      responses: { 200: { description: 'an event stream', stream: true } },
      async handler({ params, query, request, reply }) {
        const store = await plane.store(params.env!);
        const operation = await operationIn(store, params.env!, params.id!);
        await streamEvents(request, reply, {
          store,
          bus: plane.bus,
          streams,
          query: { env: params.env!, service: operation.service },
          cursor: requestedCursor(request, query.after) ?? 0,
          filter: (event) => event.operationId !== null,
          finish: () => outcomeOf(plane, store, operation),
        });
        return reply;
      },
    }),
  ];
}
