/**
 * Signing the dashboard in: a one-time code (minted for the local user by `berth up` and
 * `berth dashboard`) or a pasted token is exchanged, by POST, for a session cookie. Tokens and
 * session ids never appear in a URL.
 */
import * as z from 'zod';
import { HttpError } from '../errors.js';
import { requireCsrf, sessionCookie, sessionSetCookie, type SessionStore } from '../sessions.js';
import type { ApiContext } from './context.js';
import { defineRoute, type RouteDefinition } from './define.js';

const exchangeBody = z.union([
  z.strictObject({ code: z.string().min(1).max(200).describe('a one-time sign-in code') }),
  z.strictObject({ token: z.string().min(1).max(500).describe('an API token, pasted on the sign-in page') }),
]);

const codeBody = z
  .strictObject({
    env: z.string().max(100).optional().describe('the environment the page opens on'),
  })
  .optional();

const sessionResponse = z.object({
  actor: z.string(),
  roles: z.record(z.string(), z.string()),
  via: z.enum(['session', 'token']),
  expiresAt: z.string().nullable(),
});

export function sessionRoutes({ plane, tokens }: ApiContext, sessions: SessionStore): RouteDefinition[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/session/exchange',
      summary:
        'sign the dashboard in: exchange a one-time code or a token for a session cookie (HttpOnly, SameSite=Strict); needs x-berth-csrf: 1',
      tag: 'session',
      access: 'public',
      body: exchangeBody,
      responses: { 200: { description: 'the session', schema: sessionResponse } },
      async handler({ request, reply, body }) {
        requireCsrf(request);
        let made: ReturnType<SessionStore['createSession']> | null;
        if ('code' in body) {
          made = sessions.exchangeCode(body.code);
          if (!made) {
            throw new HttpError(
              401,
              'invalid_code',
              'this sign-in link was used already, has expired, or is wrong',
              {
                hint: 'get a new one with `berth dashboard --env ENV` (a link works once, for 2 minutes)',
                exitCode: 3,
              },
            );
          }
        } else {
          const principal = tokens.verify(body.token);
          if (!principal) {
            throw new HttpError(401, 'invalid_token', 'the API token is not valid', {
              hint: 'create one with `berth token create --role viewer --env ENV`',
              exitCode: 3,
            });
          }
          made = sessions.createSession(principal);
        }
        reply.header('set-cookie', sessionSetCookie(request, made.session));
        return {
          actor: made.info.principal.name,
          roles: made.info.principal.roles,
          via: 'session',
          expiresAt: new Date(made.info.expiresAt).toISOString(),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/session',
      summary: 'who the page (or token) is signed in as',
      tag: 'session',
      access: 'authenticated',
      responses: { 200: { description: 'the caller', schema: sessionResponse } },
      async handler({ request, principal }) {
        const cookie = request.viaSession ? sessionCookie(request) : null;
        const info = cookie ? sessions.verify(cookie) : null;
        return {
          actor: principal.name,
          roles: principal.roles,
          via: request.viaSession ? 'session' : 'token',
          expiresAt: info ? new Date(info.expiresAt).toISOString() : null,
        };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/session',
      summary: 'sign out: ends the session and removes its cookie',
      tag: 'session',
      access: 'authenticated',
      responses: { 200: { description: '{ signedOut: true }' } },
      async handler({ request, reply }) {
        const cookie = sessionCookie(request);
        if (cookie) sessions.revoke(cookie);
        reply.header('set-cookie', sessionSetCookie(request, null));
        return { signedOut: true };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/session/codes',
      summary:
        'a one-time sign-in code (valid once, for 2 minutes) that signs a browser in as the caller; what `berth dashboard` prints as a link',
      tag: 'session',
      access: 'admin',
      body: codeBody,
      responses: { 201: { description: '{ code, expiresAt, link }' } },
      async handler({ request, reply, body, principal }) {
        if (body?.env) plane.environment(body.env);
        const { code, expiresAt } = sessions.createCode(principal);
        reply.code(201);
        const fragment = `code=${code}${body?.env ? `&env=${encodeURIComponent(body.env)}` : ''}`;
        return {
          code,
          expiresAt: new Date(expiresAt).toISOString(),
          // A fragment: browsers do not send it to the server, so it is in no request line or log.
          link: `http://${request.headers.host}/#${fragment}`,
        };
      },
    }),
  ];
}
