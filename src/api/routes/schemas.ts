/** Request and response schemas of the API routes (the ServiceSpec one is shared with spec/). */
import * as z from 'zod';
import { serviceSpecSchema } from '../../spec/service-spec-schema.js';
import { ROLES } from '../tokens.js';

const deadline = z
  .number()
  .int()
  .min(1000)
  .max(86_400_000)
  .describe('how long new replicas may take to become healthy, in ms (default 60000)');
const confirm = z
  .string()
  .max(100)
  .describe("the environment's name: required for destructive changes in a protected environment");

export const deployBody = z.strictObject({
  spec: serviceSpecSchema,
  noRollback: z.boolean().optional().describe('keep a version that fails to become healthy'),
  healthDeadlineMs: deadline.optional(),
  confirm: confirm.optional(),
});

export const planBody = z.strictObject({ spec: serviceSpecSchema });

export const rollbackBody = z.strictObject({
  to: z.number().int().min(1).optional().describe('the revision to return to (default: the one before)'),
  healthDeadlineMs: deadline.optional(),
  confirm: confirm.optional(),
});

export const restoreBody = z.strictObject({
  windowMs: z
    .number()
    .int()
    .min(1)
    .max(365 * 86_400_000)
    .optional(),
});

export const confirmQuery = z.strictObject({ confirm: confirm.optional() });

const seq = z.coerce.number().int().min(0);

export const eventsQuery = z.strictObject({
  after: seq.optional().describe('only events after this seq (Last-Event-ID wins)'),
  limit: z.coerce.number().int().min(1).max(10_000).default(100).describe('the last N events'),
  follow: z
    .enum(['true', 'false', '1', '0'])
    .transform((value) => value === 'true' || value === '1')
    .optional()
    .describe('stream (text/event-stream); also chosen by Accept: text/event-stream'),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

export const operationsQuery = z.strictObject({
  service: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const auditQuery = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(200),
});

export const tokenBody = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/)
    .describe('the actor recorded in the audit trail'),
  roles: z
    .record(z.string().regex(/^(\*|[a-z0-9][a-z0-9-]{0,39})$/), z.enum(ROLES))
    .refine((roles) => Object.keys(roles).length > 0, 'must name at least one environment')
    .meta({ description: 'role per environment; "*" covers every environment', minProperties: 1 }),
});

export const stepSchema = z.object({
  name: z.string(),
  status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled']),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  message: z.string().nullable(),
  attempts: z.number().int(),
  checkpoint: z.unknown(),
});

export const operationSchema = z
  .looseObject({
    id: z.string(),
    env: z.string(),
    service: z.string(),
    kind: z.enum(['deploy', 'delete', 'rollback', 'repair']),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'cancelled']),
    revision: z.number().int().nullable(),
    steps: z.array(stepSchema),
    error: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .meta({ id: 'Operation' });

export const eventSchema = z
  .object({
    seq: z.number().int(),
    time: z.string(),
    env: z.string(),
    service: z.string().nullable(),
    operationId: z.string().nullable(),
    type: z.string(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'Event' });

export const acceptedSchema = z.object({
  operation: operationSchema,
  afterSeq: z.number().int().describe('follow the operation from this event seq'),
  watch: z.string().describe("an SSE stream of the request's events, ending with an `outcome` event"),
});

export const outcomeSchema = z
  .object({
    operation: operationSchema,
    rollback: operationSchema.nullable(),
    resumed: operationSchema.nullable(),
    urls: z.array(z.string()),
  })
  .meta({ id: 'OperationOutcome' });

export const statusSchema = z
  .looseObject({
    env: z.string(),
    name: z.string(),
    revision: z.number().int().nullable(),
    health: z.enum(['Healthy', 'Progressing', 'Degraded', 'Failed', 'Missing', 'Unknown']),
    sync: z.enum(['InSync', 'Drifted', 'Repairing', 'Unknown']),
    resources: z.array(z.looseObject({ kind: z.string(), providerId: z.string(), state: z.string() })),
    urls: z.array(z.string()),
    observedAt: z.string(),
  })
  .meta({ id: 'ServiceStatus' });

export const environmentSchema = z
  .looseObject({
    name: z.string(),
    provider: z.enum(['local', 'aws']),
    protected: z.boolean(),
    color: z.string(),
    drift: z.enum(['heal', 'report']),
  })
  .meta({ id: 'Environment' });

export const identitySchema = z.object({ id: z.string(), description: z.string() });
