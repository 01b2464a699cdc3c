/** Services: status, apply a spec (deploy), plan, delete, rollback, restore, cancel, history. */
import * as z from 'zod';
import { planDeploy } from '../../engine/plan.js';
import type { EventRecord } from '../../state/store.js';
import { assertMayChooseCode } from '../code-boundary.js';
import { HttpError } from '../errors.js';
import { ServiceListing } from '../listing.js';
import { serviceHistory } from '../queries.js';
import { actorOf, type ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';
import {
  acceptedSchema,
  confirmQuery,
  deployBody,
  operationSchema,
  planBody,
  restoreBody,
  rollbackBody,
  statusSchema,
} from './schemas.js';

const accepted = {
  202: { description: 'the operation started; follow it at `watch`', schema: acceptedSchema },
};

function watchUrl(env: string, operationId: string, afterSeq: number): string {
  return `/v1/envs/${encodeURIComponent(env)}/operations/${encodeURIComponent(operationId)}/watch?after=${afterSeq}`;
}

export function serviceRoutes({ plane }: ApiContext): RouteDefinition[] {
  // The list is served from a snapshot (see listing.ts); what changes a service makes it recompute.
  const listing = new ServiceListing({ log: plane.log });
  plane.bus.on('event', (event: EventRecord) => {
    if (event.service) listing.changed(event.env, event.service);
  });
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/services',
      summary: 'every service in the environment: health, sync, resources, active operation',
      tag: 'services',
      access: 'read',
      responses: { 200: { description: 'statuses, by name', schema: z.array(statusSchema) } },
      async handler({ params, reply }) {
        const json = await listing.listJson(await plane.open(params.env!));
        reply.type('application/json; charset=utf-8');
        return json;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/services/:service',
      summary: "one service's status",
      tag: 'services',
      access: 'read',
      responses: { 200: { description: 'its status', schema: statusSchema } },
      async handler({ params }) {
        const open = await plane.open(params.env!);
        const [status] = await plane.engine(open, { name: 'api', interface: 'api' }).status(params.service);
        return status;
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/envs/:env/services/:service',
      summary: 'apply a normalized spec: deploy it (returns at once; follow `watch`)',
      tag: 'services',
      access: 'deploy',
      body: deployBody,
      responses: accepted,
      async handler({ params, body, principal, reply }) {
        if (body.spec.name !== params.service) {
          // 409, not 400: each part is valid on its own (no schema can say they must agree); the body
          // conflicts with the service the URL names.
          throw new HttpError(
            409,
            'name_mismatch',
            `the spec is named "${body.spec.name}", not "${params.service}"`,
            { hint: `PUT it to /v1/envs/${params.env}/services/${body.spec.name}`, exitCode: 2 },
          );
        }
        const { spec, ...request } = body;
        await assertMayChooseCode(principal, await plane.open(params.env!), spec);
        const started = await plane.startJob(params.env!, spec.name, actorOf(principal), (engine) =>
          engine.deploy(spec, request),
        );
        reply.code(202);
        return {
          ...started,
          job: undefined,
          watch: watchUrl(params.env!, started.operation.id, started.afterSeq),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/envs/:env/plan',
      summary: 'what applying a spec would change, without changing anything',
      tag: 'services',
      access: 'read',
      body: planBody,
      responses: { 200: { description: 'the changes, one per resource' } },
      async handler({ params, body }) {
        const open = await plane.open(params.env!);
        return planDeploy(open.store, open.provider, open.env, body.spec);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/services/:service/delete-preview',
      summary: 'what a delete would remove, found by tag and in berth’s inventory',
      tag: 'services',
      access: 'read',
      responses: { 200: { description: 'the resources' } },
      async handler({ params }) {
        const open = await plane.open(params.env!);
        return plane.engine(open, { name: 'api', interface: 'api' }).previewDelete(params.service!);
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/envs/:env/services/:service',
      summary: 'remove a service and everything it owns (a protected environment needs ?confirm=<env>)',
      tag: 'services',
      access: 'deploy',
      query: confirmQuery,
      responses: accepted,
      async handler({ params, query, principal, reply }) {
        const started = await plane.startJob(params.env!, params.service!, actorOf(principal), (engine) =>
          engine.delete(params.service!, { confirm: query.confirm }),
        );
        reply.code(202);
        return {
          ...started,
          job: undefined,
          watch: watchUrl(params.env!, started.operation.id, started.afterSeq),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/envs/:env/services/:service/rollback',
      summary: 'deploy an earlier revision as a new one (default: the one before the current)',
      tag: 'services',
      access: 'deploy',
      body: rollbackBody,
      responses: accepted,
      async handler({ params, body, principal, reply }) {
        const started = await plane.startJob(params.env!, params.service!, actorOf(principal), (engine) =>
          engine.rollback(params.service!, body.to, {
            noRollback: true,
            healthDeadlineMs: body.healthDeadlineMs,
            confirm: body.confirm,
          }),
        );
        reply.code(202);
        return {
          ...started,
          job: undefined,
          watch: watchUrl(params.env!, started.operation.id, started.afterSeq),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/envs/:env/services/:service/restore',
      summary: 'redeploy a deleted service exactly as it was, within the restore window',
      tag: 'services',
      access: 'deploy',
      body: restoreBody,
      responses: accepted,
      async handler({ params, body, principal, reply }) {
        const started = await plane.startJob(params.env!, params.service!, actorOf(principal), (engine) =>
          engine.restore(params.service!, body.windowMs),
        );
        reply.code(202);
        return {
          ...started,
          job: undefined,
          watch: watchUrl(params.env!, started.operation.id, started.afterSeq),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/envs/:env/services/:service/cancel',
      summary: "ask the service's active operation to stop; returns once it stopped",
      tag: 'services',
      access: 'deploy',
      responses: { 200: { description: 'the operation, as it ended', schema: operationSchema } },
      async handler({ params, principal }) {
        const open = await plane.open(params.env!);
        const operation = await plane.engine(open, actorOf(principal)).cancel(params.service!);
        plane.options.onWrite?.(params.env!, params.service!);
        return operation;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/services/:service/history',
      summary: 'revisions and the last 50 operations, newest first',
      tag: 'services',
      access: 'read',
      responses: { 200: { description: '{ service, revisions, operations }' } },
      async handler({ params }) {
        return serviceHistory(await plane.store(params.env!), params.env!, params.service!);
      },
    }),
  ];
}
