/**
 * Who may call what. Every request's Host header must be on the allow-list (a DNS-rebinding
 * page cannot reach the API through a name it controls); every route but the public ones needs
 * a bearer token; a route under /v1/envs/:env needs a role in that environment high enough for
 * what it does (read: viewer, deploy: deployer, admin: admin).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import { requireCsrf, sessionCookie, type SessionStore } from './sessions.js';
import { allows, roleIn, type Access, type Principal, type TokenStore } from './tokens.js';

/** The host names the API answers to on `port`: loopback in its three spellings, plus `extra`. */
export function defaultAllowedHosts(port: number, extra: string[] = []): string[] {
  const loopback = ['localhost', '127.0.0.1', '[::1]'].map((host) => `${host}:${port}`);
  // Browsers and clients omit the port for 80; allow the bare names then too.
  const bare = port === 80 ? ['localhost', '127.0.0.1', '[::1]'] : [];
  return [...loopback, ...bare, ...extra.map((host) => host.toLowerCase())];
}

export interface AuthOptions {
  tokens: TokenStore;
  /** Read per request: the port is known only once the server listens. */
  allowedHosts: () => readonly string[];
  /** Browser sessions (the dashboard): a session cookie stands for the token it was made from. */
  sessions?: SessionStore;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the caller was authenticated by a session cookie rather than a bearer token. */
    viaSession: boolean;
  }
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Throws 403 unless the caller's role in `env` allows `access`. */
export function authorize(principal: Principal, env: string, access: Access): void {
  const role = roleIn(principal, env);
  if (allows(role, access)) return;
  const needed = access === 'read' ? 'viewer' : access === 'deploy' ? 'deployer' : 'admin';
  throw new HttpError(
    403,
    'forbidden',
    role
      ? `token "${principal.name}" is ${role} in ${env}; this needs ${needed}`
      : `token "${principal.name}" has no role in ${env}`,
    {
      hint: `ask an admin for a token with: berth token create --role ${needed} --env ${env}`,
      exitCode: 3,
      env,
    },
  );
}

export function registerAuth(app: FastifyInstance, options: AuthOptions): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('viaSession', false);
  app.addHook('onRequest', async (request) => {
    const host = (request.headers.host ?? '').toLowerCase();
    // Load balancers check a target's health by its address (Host: 10.0.1.23:4000), which no
    // allow-list can name; /healthz says nothing but "up", so it answers to any Host.
    const healthCheck = request.routeOptions.url === '/healthz';
    if (!healthCheck && !options.allowedHosts().includes(host)) {
      throw new HttpError(421, 'host_not_allowed', `this API does not answer to the host "${host}"`, {
        hint: 'call it as localhost or 127.0.0.1, or start it with --allow-host <host:port>',
        exitCode: 3,
      });
    }
    const access = request.routeOptions.config?.access ?? 'authenticated';
    if (access === 'public') return;
    const token = bearer(request);
    let principal = token ? options.tokens.verify(token) : null;
    // A bearer token wins; without one, the dashboard's session cookie (same roles as its token).
    const cookie = !token && options.sessions ? sessionCookie(request) : null;
    if (cookie) {
      principal = options.sessions!.verify(cookie)?.principal ?? null;
      if (principal) {
        request.viaSession = true;
        requireCsrf(request);
      }
    }
    if (!principal) {
      throw new HttpError(
        401,
        token ? 'invalid_token' : 'unauthenticated',
        token
          ? 'the API token is not valid'
          : cookie
            ? 'the session has ended: sign in again'
            : 'this needs an API token',
        {
          hint: cookie
            ? 'get a new sign-in link with `berth dashboard --env ENV`, or paste a token on the sign-in page'
            : 'pass --token or $BERTH_TOKEN; `berth up` writes an admin token to <data dir>/api-token',
          exitCode: 3,
        },
      );
    }
    request.principal = principal;
    const env = (request.params as Record<string, string> | undefined)?.env;
    if (access === 'authenticated') return;
    if (env !== undefined) return authorize(principal, env, access);
    // Not tied to one environment (e.g. tokens): at least that role somewhere, before the body
    // is even read; the handler checks each environment the request names.
    if (!Object.values(principal.roles).some((role) => allows(role, access))) {
      throw new HttpError(403, 'forbidden', `token "${principal.name}" has no role that allows this`, {
        exitCode: 3,
      });
    }
  });
}
