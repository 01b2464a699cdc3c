/**
 * The HTTP app: routes over the same engine calls that direct mode uses, behind a Host
 * allow-list and bearer tokens. No CORS: browsers may only call it from its own origin.
 */
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HTTPMethods,
} from 'fastify';
import { auditRefusal } from '../engine/guard.js';
import { registerAuth } from './auth.js';
import { registerRedaction } from './redact.js';
import type { ControlPlane } from './control-plane.js';
import { HttpError, toHttpError } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { ApiContext } from './routes/context.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { allowedMethods, registerRoutes, type RouteAccess, type RouteDefinition } from './routes/define.js';
import { envRoutes } from './routes/envs.js';
import { eventRoutes } from './routes/events.js';
import { logRoutes } from './routes/logs.js';
import { secretRoutes } from './routes/secrets.js';
import { serviceRoutes } from './routes/services.js';
import { sessionRoutes } from './routes/session.js';
import { systemRoutes } from './routes/system.js';
import { timelineRoutes } from './routes/timeline.js';
import { SessionStore } from './sessions.js';
import { StreamRegistry } from './sse.js';
import { ANY_ENV, type TokenStore } from './tokens.js';

export interface AppOptions {
  plane: ControlPlane;
  tokens: TokenStore;
  /** The Host header values accepted (see defaultAllowedHosts); read per request. */
  allowedHosts: () => readonly string[];
  version: string;
  metrics?: Metrics;
  log?: (message: string) => void;
  /** The dashboard's browser sessions; default: a new, empty store. */
  sessions?: SessionStore;
  /** Where the built dashboard is (default: dist/dashboard of this package). */
  dashboardDir?: string;
}

/** A route as Fastify registered it (HEAD twins of GET routes included). */
export interface RegisteredRoute {
  method: string;
  url: string;
  access: RouteAccess;
}

export interface ApiApp {
  app: FastifyInstance;
  /** Every route the app answers, as registered: what the security tests enumerate. */
  routes: RegisteredRoute[];
  definitions: RouteDefinition[];
  metrics: Metrics;
  sessions: SessionStore;
}

export async function buildApp(options: AppOptions): Promise<ApiApp> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    return503OnClosing: false,
    // Errors Fastify meets before routing (a URL it cannot decode, a path parameter over its
    // length limit) get the same JSON error body as every other error, not Fastify's own shape.
    frameworkErrors: (error, request, reply) => {
      if (methodNotAllowed(request as FastifyRequest, reply as FastifyReply)) return;
      const { status, body } = toHttpError(error);
      void (reply as FastifyReply).code(status).send(body);
    },
  });
  // Routes are registered below; these read them when a request comes.
  let allowed: (path: string) => string[] = () => [];
  /** Answers 405 (with Allow) when the path is declared for other methods only; true when it did. */
  const methodNotAllowed = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const path = request.url.split('?')[0]!;
    const methods = allowed(path);
    if (methods.length === 0 || methods.includes(request.method)) return false;
    void reply
      .code(405)
      .header('allow', methods.join(', '))
      .send({
        error: 'method_not_allowed',
        message: `${request.method} is not allowed on ${path}`,
        details: [],
        hint: `allowed: ${methods.join(', ')} (see /openapi.json)`,
        exitCode: 2,
      });
    return true;
  };
  const metrics = options.metrics ?? createMetrics();
  const streams = new StreamRegistry();
  const routes: RegisteredRoute[] = [];
  const log = options.log ?? (() => undefined);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const access = (route.config as { access?: RouteAccess } | undefined)?.access ?? 'authenticated';
    for (const method of methods as HTTPMethods[]) routes.push({ method, url: route.url, access });
  });
  const sessions = options.sessions ?? new SessionStore(options.tokens);
  registerAuth(app, { tokens: options.tokens, allowedHosts: options.allowedHosts, sessions });
  registerRedaction(app);

  app.setErrorHandler(async (error, request, reply) => {
    // a method no route declares (QUERY with no Content-Type fails before routing): still a 405
    if (methodNotAllowed(request, reply)) return reply;
    const { status, body } = toHttpError(error);
    if (isAuditedRefusal(status, body.exitCode)) await auditApiRefusal(options.plane, request, error);
    if (status >= 500)
      log(`internal error on ${request.method} ${request.url}: ${(error as Error).stack ?? error}`);
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="berth"');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    if (methodNotAllowed(request, reply)) return reply;
    return reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
      details: [],
      hint: 'see /openapi.json',
      exitCode: 2,
    });
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });
  app.addHook('preClose', async () => streams.closeAll());

  const context: ApiContext = {
    plane: options.plane,
    tokens: options.tokens,
    streams,
    metrics,
    version: options.version,
  };
  const definitions: RouteDefinition[] = [];
  definitions.push(
    ...systemRoutes(context, () => definitions),
    ...envRoutes(context),
    ...serviceRoutes(context),
    ...eventRoutes(context),
    ...logRoutes(context),
    ...secretRoutes(context),
    ...timelineRoutes(context),
    ...sessionRoutes(context, sessions),
    ...dashboardRoutes(options.dashboardDir),
  );
  registerRoutes(app, definitions);
  allowed = allowedMethods(definitions);
  await app.ready();
  return { app, routes, definitions, metrics, sessions };
}

/**
 * Refusals written to the audit trail: a token without the role (403) and every safety guard
 * (exit 3: protection, confirmation, identity), but not a missing or wrong token (401: no one to
 * name) nor a Host the API does not answer to (421: not about any environment).
 */
function isAuditedRefusal(status: number, exitCode: number): boolean {
  return status === 403 || (exitCode === 3 && status !== 401 && status !== 421);
}

/** Appends the refusal to the environment's own store (once: the engine may have done it). */
async function auditApiRefusal(plane: ControlPlane, request: FastifyRequest, error: unknown): Promise<void> {
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  const env = (error instanceof HttpError ? error.env : undefined) ?? params.env;
  if (!env || env === ANY_ENV) return;
  const store = await plane.store(env).catch(() => null);
  if (!store) return;
  const principal = request.principal;
  await auditRefusal(store, {
    actor: { name: principal?.name ?? 'anonymous', interface: 'api' },
    env,
    action: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
    // what the URL names besides the environment: the service, the secret...
    args: Object.fromEntries(Object.entries(params).filter(([key, value]) => key !== 'env' && value)),
    error,
  });
}
