/**
 * An environment's secrets over the API, so a team that shares berth through its API can manage
 * them without a shell on berth's machine (local) or AWS credentials of their own. Setting and
 * removing need admin: a value chosen by whoever may set it reaches every service that names it.
 * Listing gives names and times, never values, to deployers (who write `secrets:`). Each change
 * is audited with the name only. A value travels once, in a request body: it is never logged,
 * never echoed in an answer or an error, and never read back.
 */
import * as z from 'zod';
import { MAX_SECRET_VALUE_LENGTH, secretActions, secretStoreFor } from '../../engine/secrets.js';
import { SECRET_NAME_PATTERN } from '../../spec/service-schema.js';
import { actorOf, type ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';

const secretParams = z.object({
  env: z.string(),
  name: z
    .string()
    .regex(SECRET_NAME_PATTERN, 'must be a secret name of letters, digits and _ . - / : + = @')
    .describe('the secret\'s name, as `secrets:` in berth.yaml refers to it ("/" as %2F)'),
});

const secretListingSchema = z
  .object({
    name: z.string(),
    updatedAt: z.string().nullable().describe('when it was last set (ISO), where the store keeps it'),
  })
  .meta({ id: 'SecretListing' });

const changedSchema = z.object({
  env: z.string(),
  name: z.string(),
  store: z.string().describe('where the value lives: the local secret store, or SSM Parameter Store'),
});

const setBody = z.strictObject({
  value: z
    .string()
    .min(1)
    .max(MAX_SECRET_VALUE_LENGTH)
    // eslint-disable-next-line no-control-regex -- NUL is what it refuses
    .regex(/^[^\x00]*$/, 'must not contain a NUL character')
    .describe('the value; never shown again, by any route'),
});

export function secretRoutes({ plane }: ApiContext): RouteDefinition[] {
  const open = async (envName: string, principal: Parameters<typeof actorOf>[0]) => {
    const env = await plane.open(envName);
    const store = await secretStoreFor(env.env, plane.dataDir);
    return secretActions(env.store, env.env, store, actorOf(principal), env.identity.id);
  };
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/envs/:env/secrets',
      summary: "the environment's secrets: names and when they were set, never values",
      tag: 'secrets',
      access: 'deploy',
      responses: { 200: { description: 'the secrets, by name', schema: z.array(secretListingSchema) } },
      async handler({ params, principal }) {
        return (await open(params.env!, principal)).list();
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/envs/:env/secrets/:name',
      summary: 'set a secret (admin); services read it at their next deploy or restart',
      tag: 'secrets',
      access: 'admin',
      params: secretParams,
      body: setBody,
      responses: { 200: { description: 'set', schema: changedSchema } },
      async handler({ params, body, principal }) {
        const store = await (await open(params.env!, principal)).set(params.name!, body.value);
        return { env: params.env!, name: params.name!, store };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/envs/:env/secrets/:name',
      summary: 'remove a secret (admin); services that use it keep running, their next start fails',
      tag: 'secrets',
      access: 'admin',
      params: secretParams,
      responses: { 200: { description: 'removed', schema: changedSchema } },
      async handler({ params, principal }) {
        const store = await (await open(params.env!, principal)).remove(params.name!);
        return { env: params.env!, name: params.name!, store };
      },
    }),
  ];
}
