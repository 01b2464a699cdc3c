/** Environments, whoami, audit and tokens. */
import * as z from 'zod';
import { HttpError } from '../errors.js';
import { authorize } from '../auth.js';
import { ANY_ENV, roleIn } from '../tokens.js';
import type { ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';
import { auditQuery, environmentSchema, identitySchema, tokenBody } from './schemas.js';

export function envRoutes({ plane, tokens }: ApiContext): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/envs',
      summary: 'the environments this token has a role in, with that role',
      tag: 'environments',
      access: 'authenticated',
      responses: {
        200: {
          description: 'environments',
          schema: z.array(environmentSchema.extend({ role: z.enum(['viewer', 'deployer', 'admin']) })),
        },
      },
      async handler({ principal }) {
        return Object.values(plane.config.environments)
          .map((env) => ({ ...env, role: roleIn(principal, env.name) }))
          .filter((env) => env.role !== null);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env',
      summary: 'one environment with the identity its provider verified (what the CLI banner shows)',
      tag: 'environments',
      access: 'read',
      responses: {
        200: {
          description: 'the environment',
          schema: z.object({ env: environmentSchema, identity: identitySchema }),
        },
      },
      async handler({ params }) {
        const open = await plane.open(params.env!);
        return { env: open.env, identity: open.identity };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/whoami',
      summary: "the token's name and roles",
      tag: 'environments',
      access: 'authenticated',
      responses: { 200: { description: 'the caller' } },
      async handler({ principal }) {
        return { actor: principal.name, roles: principal.roles };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/whoami',
      summary: 'the environment, its verified identity, and who is calling with which role',
      tag: 'environments',
      access: 'read',
      responses: { 200: { description: 'the caller in this environment' } },
      async handler({ params, principal }) {
        const open = await plane.open(params.env!);
        return {
          env: open.env.name,
          provider: open.env.provider,
          protected: open.env.protected,
          identity: open.identity.id,
          description: open.identity.description,
          declaredIdentity: open.env.identity ?? null,
          actor: principal.name,
          role: roleIn(principal, open.env.name),
          mode: 'api',
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/audit',
      summary: 'who changed what, through which interface, as which identity, with which result',
      tag: 'audit',
      access: 'read',
      query: auditQuery,
      responses: { 200: { description: 'audit entries, oldest first' } },
      async handler({ params, query }) {
        const store = await plane.store(params.env!);
        const entries = await store.listAudit({ env: params.env!, since: query.since, until: query.until });
        return entries.slice(-query.limit);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/tokens',
      summary: 'create a token (shown once); needs admin in every environment it names',
      tag: 'tokens',
      access: 'admin',
      body: tokenBody,
      responses: { 201: { description: '{ token, name, roles }' } },
      async handler({ body, principal, reply }) {
        for (const env of Object.keys(body.roles)) {
          if (env !== ANY_ENV) plane.environment(env);
          authorize(principal, env, 'admin');
        }
        const { token, record } = tokens.create({ name: body.name, roles: body.roles });
        reply.code(201);
        return { token, name: record.name, roles: record.roles, createdAt: record.createdAt };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tokens',
      summary: 'the tokens (names and roles, never the secrets); needs admin on "*"',
      tag: 'tokens',
      access: 'admin',
      responses: { 200: { description: 'tokens' } },
      async handler({ principal }) {
        if (roleIn(principal, ANY_ENV) !== 'admin' || principal.roles[ANY_ENV] !== 'admin') {
          throw new HttpError(403, 'forbidden', 'listing tokens needs admin in every environment ("*")', {
            exitCode: 3,
          });
        }
        return tokens.list().map(({ hash: _hash, ...record }) => record);
      },
    }),
  ];
}
