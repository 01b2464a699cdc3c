/**
 * Plain `env:` values are for the people who deploy: a viewer token sees every variable's name,
 * never its value, wherever a spec or a resource shows up (history, status, plan, events, drift,
 * live streams, the dashboard). Secret values never reach the API at all: specs hold only their
 * names (see spec/types.ts `secrets`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { roleIn } from './tokens.js';

export const HIDDEN_VALUE = '(hidden: needs deployer)';

function isStringMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A spec's `env:` (variable -> value: every value a string). An environment's own config, which
 * answers also carry under `env` (GET /v1/envs/{env}), has a boolean `protected` and stays shown.
 */
function isVariableMap(value: unknown): value is Record<string, string> {
  return isStringMap(value) && Object.values(value).every((entry) => typeof entry === 'string');
}

function hideValues(map: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(map).map((key) => [key, HIDDEN_VALUE]));
}

/**
 * A copy of `value` with the values of every `env` mapping hidden, and those of drift fields
 * about `env` ({ field: 'env', desired, observed }).
 */
export function hideEnvValues(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hideEnvValues);
  if (!isStringMap(value)) return value;
  const driftOfEnv =
    value.field === 'env' || (typeof value.field === 'string' && value.field.startsWith('env.'));
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (key === 'env' && isVariableMap(entry)) out[key] = hideValues(entry);
    else if (driftOfEnv && (key === 'desired' || key === 'observed'))
      out[key] = isStringMap(entry)
        ? hideValues(entry)
        : entry === undefined || entry === null
          ? entry
          : HIDDEN_VALUE;
    else out[key] = hideEnvValues(entry);
  }
  return out;
}

/** True when the caller may read an environment but not see its env values (a viewer). */
export function seesEnvValues(request: FastifyRequest): boolean {
  const env = (request.params as Record<string, string> | undefined)?.env;
  if (!request.principal || env === undefined) return true;
  return roleIn(request.principal, env) !== 'viewer';
}

/** Hides env values in every JSON answer to a viewer (object payloads and pre-serialized JSON). */
export function registerRedaction(app: FastifyInstance): void {
  app.addHook('preSerialization', async (request, _reply, payload) =>
    seesEnvValues(request) ? payload : hideEnvValues(payload),
  );
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' || seesEnvValues(request)) return payload;
    if (!String(reply.getHeader('content-type') ?? '').includes('json') || !payload.includes('"env'))
      return payload;
    try {
      return JSON.stringify(hideEnvValues(JSON.parse(payload)));
    } catch {
      return payload;
    }
  });
}

/** Values shorter than this are left in text: they would hide ordinary words and numbers. */
const MIN_HIDDEN_TEXT = 4;

/**
 * `text` with each of `values` replaced by HIDDEN_VALUE wherever it occurs (a replica that prints
 * a variable's value in its log lines, for a viewer). Longer values first, so that a value that
 * contains another is hidden whole.
 */
export function hideValuesInText(text: string, values: Iterable<string>): string {
  const hidden = [...new Set(values)]
    .filter((value) => value.length >= MIN_HIDDEN_TEXT)
    .sort((a, b) => b.length - a.length);
  return hidden.reduce((out, value) => out.split(value).join(HIDDEN_VALUE), text);
}
