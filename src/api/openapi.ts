/** The OpenAPI 3.1 document, generated from the route declarations and their zod schemas. */
import * as z from 'zod';
import type { RouteDefinition } from './routes/define.js';

const errorSchema = z
  .object({
    error: z.string().describe('a stable machine-readable code'),
    message: z.string(),
    details: z.array(z.string()),
    hint: z.string().nullable().describe('the next thing to try'),
    exitCode: z.number().int().describe('what the CLI exits with for this error'),
  })
  .meta({ id: 'Error' });

/** One event of a text/event-stream response, as an SSE client parses it. */
const SERVER_SENT_EVENT = {
  type: 'object',
  description:
    'one server-sent event: `id` is the event seq (resume with Last-Event-ID), `event` its type, `data` the Event as JSON; a watch ends with an `outcome` (OperationOutcome) or `error` (Error) event',
  properties: {
    id: { type: 'string' },
    event: { type: 'string' },
    data: { type: 'string', contentMediaType: 'application/json' },
    retry: { type: 'integer', minimum: 0 },
  },
  required: ['data'],
};
const sseEventRef = { $ref: '#/components/schemas/ServerSentEvent' };

/** Fastify's maxParamLength (its default), which app.ts keeps. */
export const MAX_PARAM_LENGTH = 100;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', reused: 'inline' });
}

/** Moves every named ($defs) schema into components.schemas and points $refs there. */
function hoist(value: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((item) => hoist(item, components));
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (key === '$defs' && item && typeof item === 'object') {
      for (const [name, def] of Object.entries(item as Record<string, unknown>)) {
        components[name] = hoist(def, components);
      }
    } else if (key === '$ref' && typeof item === 'string') {
      out.$ref = item.replace('#/$defs/', '#/components/schemas/');
    } else if (key !== '$schema') {
      out[key] = hoist(item, components);
    }
  }
  return out;
}

function queryParameters(schema: z.ZodType | undefined, components: Record<string, unknown>) {
  if (!schema) return [];
  const json = hoist(jsonSchema(schema, 'input'), components) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

export function buildOpenApi(routes: RouteDefinition[], version: string): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  const errorRef = { $ref: '#/components/schemas/Error' };
  hoist(jsonSchema(errorSchema, 'output'), components); // registers components.schemas.Error
  components.ServerSentEvent = SERVER_SENT_EVENT;
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    const pathParameters = [...route.url.matchAll(/:(\w+)/g)].map(([, name]) => {
      const rule = route.params?.shape[name!] as z.ZodType | undefined;
      const { $schema: _dialect, ...own } = rule
        ? (jsonSchema(rule, 'input') as { $schema?: string; maxLength?: number })
        : {};
      return {
        name,
        in: 'path',
        required: true,
        // the router refuses a parameter longer than this (414) before any handler sees it
        schema: {
          type: 'string',
          minLength: 1,
          ...own,
          maxLength: Math.min(own.maxLength ?? MAX_PARAM_LENGTH, MAX_PARAM_LENGTH),
        },
      };
    });
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      const content: Record<string, unknown> = {};
      if (response.schema && !response.html) {
        content['application/json'] = { schema: hoist(jsonSchema(response.schema, 'output'), components) };
      }
      // A stream is described event by event (OpenAPI 3.1: the schema of text/event-stream is one event).
      if (response.stream) content['text/event-stream'] = { schema: sseEventRef };
      if (response.html) content['text/html'] = { schema: { type: 'string' } };
      responses[status] = {
        description: response.description,
        ...(Object.keys(content).length ? { content } : {}),
      };
    }
    const protectedRoute = route.access !== 'public';
    if (protectedRoute) {
      responses['401'] = {
        description: 'no or invalid token',
        content: { 'application/json': { schema: errorRef } },
      };
      responses['403'] = {
        description: 'the token has no sufficient role in this environment',
        content: { 'application/json': { schema: errorRef } },
      };
    }
    responses['4XX'] = { description: 'bad request', content: { 'application/json': { schema: errorRef } } };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      summary: route.summary,
      tags: [route.tag],
      'x-berth-access': route.access,
      ...(protectedRoute ? { security: [{ bearer: [] }] } : { security: [] }),
      parameters: [...pathParameters, ...queryParameters(route.query, components)],
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: hoist(jsonSchema(route.body, 'input'), components) } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'berth control plane API',
      version,
      description:
        'Deploy, roll back, delete and watch services. Every route but /healthz, /openapi.json and the dashboard needs a bearer token with a role (viewer, deployer, admin) in the environment it touches.',
    },
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
