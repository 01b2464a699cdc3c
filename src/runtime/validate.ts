import { isAbsolute } from 'node:path';
import * as z from 'zod';
import { RUNTIME_NAME_PATTERN } from '../core/ids.js';
import type { ReplicaHealthConfig, RuntimeKind } from './types.js';

/** A DNS host name: labels of a-z, 0-9 and '-', separated by dots; lower case, no port. */
export const HOST_PATTERN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const DEFAULT_REPLICA_HEALTH: ReplicaHealthConfig = {
  path: '/',
  intervalMs: 2000,
  timeoutMs: 1000,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
};

const host = z
  .string()
  .regex(HOST_PATTERN, 'must be a lower-case host name without port, e.g. "hello.local.localhost"');
const tags = z.record(z.string().min(1, 'tag keys must not be empty'), z.string());
const httpPath = z.string().startsWith('/', 'must start with "/"');
const ms = (min: number, max: number) => z.int().min(min).max(max);

const healthPartial = z.strictObject({
  path: httpPath.optional(),
  intervalMs: ms(10, 3_600_000).optional(),
  timeoutMs: ms(10, 600_000).optional(),
  healthyThreshold: z.int().min(1).max(100).optional(),
  unhealthyThreshold: z.int().min(1).max(100).optional(),
});

const serviceFields = {
  name: z
    .string()
    .regex(RUNTIME_NAME_PATTERN, 'must be 1-100 of a-z, 0-9 and "-", not starting or ending with "-"'),
  command: z.array(z.string().min(1, 'must not be empty')).min(1, 'must name a program (argv, no shell)'),
  cwd: z.string().refine((dir) => isAbsolute(dir), 'must be an absolute path'),
  env: z.record(z.string().min(1), z.string()),
  secrets: z.record(
    z.string().min(1),
    z.strictObject({ scope: z.string().min(1).max(40), name: z.string().min(1).max(2048) }),
  ),
  replicas: z.int().min(0).max(100),
  health: healthPartial,
  tags,
};

const schemas = {
  services: {
    create: z.strictObject({
      ...serviceFields,
      env: serviceFields.env.default({}),
      secrets: serviceFields.secrets.default({}),
      replicas: serviceFields.replicas.default(1),
      health: healthPartial.default({}),
      tags: tags.default({}),
    }),
    patch: z.strictObject(serviceFields).partial(),
  },
  routes: {
    create: z.strictObject({ host, serviceId: z.string().min(1), tags: tags.default({}) }),
    patch: z.strictObject({ host, serviceId: z.string().min(1), tags }).partial(),
  },
  dns: {
    create: z.strictObject({
      name: host,
      type: z.literal('CNAME').default('CNAME'),
      target: host,
      tags: tags.default({}),
    }),
    patch: z.strictObject({ name: host, type: z.literal('CNAME'), target: host, tags }).partial(),
  },
  healthchecks: {
    create: z.strictObject({
      host,
      path: httpPath.default('/'),
      intervalMs: ms(100, 3_600_000).default(10_000),
      failureThreshold: z.int().min(1).max(100).default(3),
      tags: tags.default({}),
    }),
    patch: z
      .strictObject({
        host,
        path: httpPath,
        intervalMs: ms(100, 3_600_000),
        failureThreshold: z.int().min(1).max(100),
        tags,
      })
      .partial(),
  },
} as const;

export class ValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

function parse(schema: z.ZodType, body: unknown, what: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError([`the body must be a JSON object (${what})`]);
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new ValidationError(
      result.error.issues.map((issue) => {
        const path = issue.path.map(String).join('.');
        return path ? `${path}: ${issue.message}` : issue.message;
      }),
    );
  }
  return result.data as Record<string, unknown>;
}

/** Validate and complete a create body (defaults filled in). */
export function parseCreate(kind: RuntimeKind, body: unknown): Record<string, unknown> {
  const data = parse(schemas[kind].create, body, `a ${kind} create input`);
  if (kind === 'services') {
    data.health = { ...DEFAULT_REPLICA_HEALTH, ...(data.health as Partial<ReplicaHealthConfig>) };
  }
  return data;
}

/** Validate a PATCH body (every field optional). */
export function parsePatch(kind: RuntimeKind, body: unknown): Record<string, unknown> {
  return parse(schemas[kind].patch, body, `a partial ${kind} input`);
}

/** Parse repeated `tag=key=value` query parameters. */
export function parseTagQuery(raw: unknown): Record<string, string> {
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const out: Record<string, string> = {};
  for (const value of values) {
    const text = String(value);
    const eq = text.indexOf('=');
    if (eq <= 0) throw new ValidationError([`tag filter "${text}" must look like tag=key=value`]);
    out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}
