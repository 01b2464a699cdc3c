/**
 * Routes declared as data: method, URL, who may call it, and the zod schemas of its input and
 * output. The same declaration validates requests, registers the Fastify route and feeds the
 * OpenAPI document, so the three cannot disagree.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as z from 'zod';
import { isFieldsDisagree } from '../../spec/fields-disagree.js';
import { HttpError, zodDetails } from '../errors.js';
import type { Access, Principal } from '../tokens.js';

/** public: no token (health, OpenAPI, dashboard files); authenticated: any valid token. */
export type RouteAccess = 'public' | 'authenticated' | Access;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface RouteInput<B, Q> {
  request: FastifyRequest;
  reply: FastifyReply;
  params: Record<string, string>;
  body: B;
  query: Q;
  /** The verified caller (null only on public routes). */
  principal: Principal;
}

export interface RouteDefinition<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Fastify syntax: /v1/envs/:env/services/:service */
  url: string;
  summary: string;
  tag: string;
  access: RouteAccess;
  body?: B;
  query?: Q;
  /** Rules for path parameters beyond "a name of at most 100 characters" (in the document too). */
  params?: z.ZodObject;
  /** Status -> what it returns; `stream` marks a text/event-stream (with `schema`: JSON, or a stream). */
  responses: Record<number, { description: string; schema?: z.ZodType; stream?: boolean; html?: boolean }>;
  handler(input: RouteInput<z.output<B>, z.output<Q>>): Promise<unknown>;
}

export function defineRoute<B extends z.ZodType = z.ZodUnknown, Q extends z.ZodType = z.ZodUnknown>(
  definition: RouteDefinition<B, Q>,
): RouteDefinition {
  return definition as unknown as RouteDefinition;
}

function parse<S extends z.ZodType>(schema: S | undefined, value: unknown, what: string): z.output<S> {
  if (!schema) return value as z.output<S>;
  const result = schema.safeParse(value ?? (what === 'body' ? undefined : {}));
  if (!result.success) {
    const details = zodDetails(result.error);
    if (result.error.issues.every((issue) => isFieldsDisagree(issue))) {
      // Every field is valid on its own (the OpenAPI document accepts it); some disagree.
      throw new HttpError(422, 'fields_disagree', `the request ${what} has fields that disagree`, {
        details,
      });
    }
    throw new HttpError(400, 'invalid_input', `the request ${what} is invalid`, { details });
  }
  return result.data;
}

export function registerRoutes(app: FastifyInstance, definitions: RouteDefinition[]): void {
  for (const definition of definitions) {
    app.route({
      method: definition.method,
      url: definition.url,
      config: { access: definition.access },
      handler: async (request, reply) => {
        const params = parse(definition.params, request.params, 'path') as Record<string, string>;
        const body = parse(definition.body, request.body, 'body');
        const query = parse(definition.query, request.query, 'query');
        const result = await definition.handler({
          request,
          reply,
          params,
          body,
          query,
          principal: request.principal as Principal,
        });
        if (reply.sent) return reply;
        return result;
      },
    });
  }
}

/**
 * The methods a path answers to, when it matches a declared route: a request with another method
 * is answered 405 with an `Allow` header instead of 404 (the path exists, the method does not).
 * HEAD is allowed wherever GET is (Fastify serves it).
 */
export function allowedMethods(definitions: RouteDefinition[]): (path: string) => string[] {
  const patterns = definitions.map((definition) => ({
    method: definition.method,
    pattern: new RegExp(
      `^${definition.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}$`,
    ),
  }));
  return (path) => {
    const methods = new Set<string>();
    for (const { method, pattern } of patterns) {
      if (!pattern.test(path)) continue;
      methods.add(method);
      if (method === 'GET') methods.add('HEAD');
    }
    return [...methods];
  };
}
