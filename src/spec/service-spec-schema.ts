/**
 * The normalized ServiceSpec (types.ts) as a zod schema: what the API accepts as "apply this spec"
 * once a client has read and normalized berth.yaml (the CLI does it locally, so that every
 * diagnostic and path is resolved the same way as in direct mode). The same rules as berth.yaml,
 * stated for the normalized shape; the OpenAPI document is generated from this schema.
 */
import * as z from 'zod';

import { SERVICE_NAME_PATTERN } from '../core/ids.js';
import { MAX_DURATION_MS } from './duration.js';
import { ENV_VAR_NAME_PATTERN, RESERVED_ENV_VARS, SECRET_NAME_PATTERN } from './service-schema.js';
import type { HealthSpec, ServiceSpec } from './types.js';
import { FIELDS_DISAGREE } from './fields-disagree.js';
import { disallowedLoaderEnv, NOT_LOADER_NAME_PATTERN, SAFE_PATH_PATTERN } from './loader-env.js';

/** An env name berth lets a spec set: a variable name, not PORT (berth sets it), not __proto__. */
const ENV_NAME_PATTERN = new RegExp(
  `^(?!(?:${Object.keys(RESERVED_ENV_VARS).join('|')}|__proto__)$)${ENV_VAR_NAME_PATTERN.source.slice(1)}`,
);

/** isHostName as a pattern: lower-case labels, at most 253 characters, the last not all digits. */
const HOST_NAME_PATTERN =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*(?!\d+$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const healthSpecSchema = z
  .strictObject({
    path: z
      .string()
      .regex(/^\/[^\s]*$/, 'must start with "/" and contain no spaces')
      .max(2048),
    intervalMs: z.number().int().min(100).max(MAX_DURATION_MS),
    timeoutMs: z.number().int().min(1).max(MAX_DURATION_MS),
    healthyThreshold: z.number().int().min(1).max(10),
    unhealthyThreshold: z.number().int().min(1).max(10),
  })
  .refine((health) => health.timeoutMs < health.intervalMs, {
    message: 'timeoutMs must be shorter than intervalMs',
    path: ['timeoutMs'],
    params: FIELDS_DISAGREE,
  }) satisfies z.ZodType<HealthSpec>;

export const serviceSpecSchema = z
  .strictObject({
    name: z.string().regex(SERVICE_NAME_PATTERN, 'must be a DNS label: 1-40 of a-z, 0-9 and "-"'),
    run: z
      .strictObject({
        command: z
          .array(
            z
              .string()
              .min(1)
              // eslint-disable-next-line no-control-regex -- NUL is what it refuses
              .regex(/^[^\x00]+$/, 'must not be empty or contain a NUL character'),
          )
          .min(1),
        cwd: z
          .string()
          .min(1)
          // eslint-disable-next-line no-control-regex -- NUL is what it refuses
          .regex(/^\/[^\x00]*$/, 'must be an absolute path without NUL characters'),
      })
      .optional(),
    image: z.string().min(1).max(1024).optional(),
    port: z.number().int().min(1).max(65535),
    replicas: z.number().int().min(0).max(100),
    health: healthSpecSchema,
    domains: z
      .array(z.string().regex(HOST_NAME_PATTERN, 'must be a lower-case host name like "shop.example.com"'))
      .max(100)
      .refine((domains) => new Set(domains).size === domains.length, 'must not list a host name twice')
      .meta({ uniqueItems: true }),
    env: z.record(
      z.string().regex(ENV_NAME_PATTERN, 'must be a variable name like LOG_LEVEL, not PORT (berth sets it)'),
      // eslint-disable-next-line no-control-regex -- NUL is what it refuses
      z.string().regex(/^[^\x00]*$/, 'must not contain a NUL character'),
    ),
    secrets: z
      .record(
        z
          .string()
          .regex(ENV_NAME_PATTERN, 'must be a variable name like DATABASE_URL, not PORT (berth sets it)'),
        z.string().regex(SECRET_NAME_PATTERN, 'must be a secret name of letters, digits and _ . - / : + = @'),
      )
      .optional()
      .describe('variables whose values come from the secret store: VARIABLE -> secret name'),
    allowLoaderEnv: z
      .array(z.string().regex(ENV_VAR_NAME_PATTERN, 'must be a variable name like NODE_OPTIONS'))
      .min(1)
      .max(50)
      .optional()
      .describe(
        'loader variables (LD_*, DYLD_*, NODE_OPTIONS, an unsafe PATH...) that env may set after all',
      ),
    protection: z.strictObject({ deletion: z.boolean() }),
    drift: z.enum(['heal', 'report']),
  })
  .refine((spec) => spec.run !== undefined || spec.image !== undefined, {
    message: 'needs run (local provider) or image (AWS provider)',
    path: ['run'],
  })
  .superRefine((spec, ctx) => {
    for (const name of Object.keys(spec.secrets ?? {})) {
      if (Object.hasOwn(spec.env, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['secrets', name],
          message: `${name} is set in env too`,
          params: FIELDS_DISAGREE,
        });
      }
    }
    for (const [name, why] of disallowedLoaderEnv({ ...spec.env, ...spec.secrets }, spec.allowLoaderEnv)) {
      ctx.addIssue({
        code: 'custom',
        path: ['env', name],
        message: `${name} changes how programs load: ${why}; list it in allowLoaderEnv to set it after all`,
        // Without allowLoaderEnv the document states this rule (the `if` below); with a list that
        // leaves this name out, only a comparison of two fields can.
        ...(spec.allowLoaderEnv ? { params: FIELDS_DISAGREE } : {}),
      });
    }
  })
  .meta({
    id: 'ServiceSpec',
    description:
      'A berth.yaml, normalized and resolved for one environment. health.timeoutMs must be shorter than health.intervalMs, and a variable is in env or in secrets, not both.',
    // What the refinements say, for the OpenAPI document (JSON Schema cannot compare two fields).
    anyOf: [{ required: ['run'] }, { required: ['image'] }],
    if: { not: { required: ['allowLoaderEnv'] } },
    then: {
      properties: {
        env: {
          propertyNames: { pattern: NOT_LOADER_NAME_PATTERN },
          properties: { PATH: { pattern: SAFE_PATH_PATTERN } },
        },
        secrets: {
          propertyNames: { pattern: NOT_LOADER_NAME_PATTERN },
          properties: { PATH: { pattern: SAFE_PATH_PATTERN } },
        },
      },
    },
  });

// The schema and the hand-written type must describe the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameShape: Same<z.output<typeof serviceSpecSchema>, ServiceSpec> = true;
void _sameShape;
