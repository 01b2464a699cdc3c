/**
 * The berth.yaml schema: what each field accepts, as written by a user. Defaults are not applied
 * here (an environment override must be told apart from a default); normalize.ts merges and fills them.
 */
import { parseArgsStringToArgv } from 'string-argv';
import * as z from 'zod';

import { SERVICE_NAME_PATTERN } from '../core/ids.js';
import { matchRule, own, type FieldRule, type Path } from './diagnostics.js';
import { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
import { checked, isHostName, mustBe, nullAs, suggestLabel } from './schema-helpers.js';

export const ENV_VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables berth sets itself for every replica. */
export const RESERVED_ENV_VARS: Readonly<Record<string, string>> = {
  PORT: 'berth sets PORT for each replica from `port:` (default 8080); set port: instead',
};

const NUL_HINT = 'remove the "\\0" escape; programs cannot receive NUL characters';
const COMMAND_EXAMPLE = 'e.g. command: [node, server.js] or command: node server.js';

/** run.command: a list of arguments, or one string split into arguments like a shell would, but never run by one. */
export const commandSchema = checked((value, report): string[] => {
  if (value === undefined || value === null) {
    report('is required', `say how to start the service, ${COMMAND_EXAMPLE}`);
    return [];
  }
  if (typeof value === 'string') {
    if (value.includes('\0')) report('must not contain a NUL character', NUL_HINT);
    const argv = parseArgsStringToArgv(value);
    if (argv.length === 0) report('must not be empty', COMMAND_EXAMPLE);
    return argv;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) report('must list at least the program to run', COMMAND_EXAMPLE);
    return value.map((arg, i) => {
      if (typeof arg === 'number' && Number.isFinite(arg)) return String(arg);
      if (typeof arg === 'boolean') return String(arg);
      if (typeof arg !== 'string') {
        report(mustBe('a string', arg), 'each argument is a plain string; quote it', [i]);
      } else if (arg.length === 0) {
        report('must not be an empty string', 'remove the empty argument', [i]);
      } else if (arg.includes('\0')) {
        report('must not contain a NUL character', NUL_HINT, [i]);
      }
      return String(arg);
    });
  }
  report(mustBe('a command line or a list of arguments', value), COMMAND_EXAMPLE);
  return [];
});

/** A duration field: "500ms", "2s", "1m" or a number of seconds; converted to milliseconds. */
export function durationSchema(minMs: number) {
  return checked((value, report): number => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      report(
        mustBe('a duration like "2s" or "500ms"', value),
        `write a number with a unit: ms, s, m or h (a bare number means seconds), at most ${formatDuration(MAX_DURATION_MS)}`,
      );
      return 0;
    }
    if (ms < minMs) {
      report(
        `must be at least ${formatDuration(minMs)}, got ${formatDuration(ms)}`,
        `e.g. ${formatDuration(Math.max(minMs, 1000))}`,
      );
    }
    return ms;
  });
}

const threshold = z.number().int().min(1).max(10);

export const healthSchema = z.strictObject({
  path: z
    .string()
    .regex(/^\/[^\s]*$/)
    .max(2048)
    .optional(),
  interval: durationSchema(100).optional(),
  timeout: durationSchema(1).optional(),
  healthyThreshold: threshold.optional(),
  unhealthyThreshold: threshold.optional(),
});

export const runSchema = z.strictObject({
  command: commandSchema,
  cwd: z
    .string()
    .min(1)
    .regex(/^[^\0]*$/)
    .optional(),
});

/** domains: host names, lower-cased, each at most once. */
export const domainsSchema = checked((value, report): string[] => {
  if (!Array.isArray(value)) {
    report(mustBe('a list of host names', value), 'e.g. domains: [shop.example.com]');
    return [];
  }
  const seen = new Map<string, number>();
  return value.map((entry, i) => {
    if (typeof entry !== 'string') {
      report(mustBe('a host name', entry), 'e.g. shop.example.com', [i]);
      return '';
    }
    const host = entry.trim().toLowerCase().replace(/\.$/, '');
    if (!isHostName(host)) {
      report(
        mustBe('a host name like "shop.example.com"', entry),
        'use letters, digits, "-" and ".", without a scheme, port, path or wildcard',
        [i],
      );
    } else if (seen.has(host)) {
      report(`"${host}" is listed twice (also domains.${seen.get(host)})`, 'remove the duplicate', [i]);
    } else {
      seen.set(host, i);
    }
    return host;
  });
});

/** env: NAME -> string. Numbers and booleans become strings (normalize.ts warns about them). */
export const envSchema = checked((value, report): Record<string, string> => {
  const out: Record<string, string> = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report(mustBe('a mapping of NAME: value', value), 'e.g. env: { LOG_LEVEL: info }');
    return out;
  }
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    if (!ENV_VAR_NAME_PATTERN.test(name) || name === '__proto__') {
      report(
        `"${name.length > 40 ? `${name.slice(0, 37)}...` : name}" is not a valid variable name`,
        'use letters, digits and "_", not starting with a digit, e.g. LOG_LEVEL',
        [name],
      );
      continue;
    }
    const reserved = own(RESERVED_ENV_VARS, name);
    if (reserved) {
      report(`${name} is reserved`, reserved, [name]);
      continue;
    }
    if (typeof entry === 'string') {
      if (entry.includes('\0')) report('must not contain a NUL character', NUL_HINT, [name]);
      out[name] = entry;
    } else if ((typeof entry === 'number' && Number.isFinite(entry)) || typeof entry === 'boolean') {
      out[name] = String(entry);
    } else if (entry === null || entry === undefined) {
      report('has no value', `write ${name}: "" for an empty value`, [name]);
    } else {
      report(mustBe('a string', entry), `quote the value: ${name}: "..."`, [name]);
    }
  }
  return out;
});

/**
 * A secret's name in the environment's secret store: locally a name like `db-url`, on AWS an SSM
 * parameter name (`/shop/db-url`) or an SSM or Secrets Manager ARN.
 */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9_.\-/:+=@]{1,2048}$/;

/** secrets: VARIABLE -> secret name. */
export const secretsSchema = z.record(
  z.string().regex(ENV_VAR_NAME_PATTERN),
  z.string().regex(SECRET_NAME_PATTERN),
);

/** allowLoaderEnv: the loader variables (LD_PRELOAD, NODE_OPTIONS, ...) that env: may set after all. */
export const allowLoaderEnvSchema = z.array(z.string().regex(ENV_VAR_NAME_PATTERN)).max(50);

/** The fields an environment override may set; the top level has these plus name and environments. */
export const overrideShape = {
  run: runSchema.optional(),
  image: z
    .string()
    .regex(/^[^\s]+$/)
    .max(512)
    .optional(),
  port: z.number().int().min(1).max(65535).optional(),
  replicas: z.number().int().min(0).max(100).optional(),
  health: nullAs({}, healthSchema).optional(),
  domains: nullAs([], domainsSchema).optional(),
  env: nullAs({}, envSchema).optional(),
  allowLoaderEnv: nullAs([], allowLoaderEnvSchema).optional(),
  secrets: nullAs({}, secretsSchema).optional(),
  protection: nullAs({}, z.strictObject({ deletion: z.boolean().optional() })).optional(),
  drift: z.enum(['heal', 'report']).optional(),
};

export const overrideSchema = z.strictObject(overrideShape);

export const serviceFileSchema = z.strictObject({
  name: z.string().regex(SERVICE_NAME_PATTERN),
  ...overrideShape,
  environments: nullAs({}, z.record(z.string(), nullAs({}, overrideSchema))).optional(),
});

export type ServiceFile = z.output<typeof serviceFileSchema>;
export type ServiceOverride = z.output<typeof overrideSchema>;

const SERVICE_RULES: Record<string, FieldRule> = {
  name: {
    message: 'must be 1-40 characters of a-z, 0-9 and "-", not starting or ending with "-"',
    hint: (value) => {
      const label = typeof value === 'string' ? suggestLabel(value) : undefined;
      return label ? `the name is used in host names; try name: ${label}` : 'e.g. name: my-service';
    },
  },
  run: {
    message: 'must be a mapping with command (and optionally cwd)',
    hint: 'e.g. run: { command: [node, server.js] }',
  },
  'run.cwd': { message: 'must be a directory path, relative to berth.yaml', hint: 'e.g. cwd: ./app' },
  image: {
    message: 'must be a container image reference without spaces',
    hint: 'e.g. image: ghcr.io/acme/shop:1.4.2',
  },
  port: {
    message: 'must be a whole number from 1 to 65535',
    hint: 'the port the service listens on; locally berth passes it to each replica as $PORT',
  },
  replicas: {
    message: 'must be a whole number from 0 to 100',
    hint: 'use 0 to keep the service but stop all replicas',
  },
  health: { message: 'must be a mapping', hint: 'e.g. health: { path: /healthz, interval: 2s }' },
  'health.path': { message: 'must be a URL path starting with "/"', hint: 'e.g. path: /healthz' },
  'health.healthyThreshold': {
    message: 'must be a whole number from 1 to 10',
    hint: 'consecutive successful checks before a replica gets traffic (default 1)',
  },
  'health.unhealthyThreshold': {
    message: 'must be a whole number from 1 to 10',
    hint: 'consecutive failed checks before a replica stops getting traffic (default 3)',
  },
  allowLoaderEnv: {
    message: 'must be a list of variable names',
    hint: 'e.g. allowLoaderEnv: [NODE_OPTIONS]: the loader variables env: may set after all',
  },
  secrets: {
    message: 'must be a mapping of VARIABLE: secret-name',
    hint: 'e.g. secrets: { DATABASE_URL: db-url }, after `berth secret set db-url --env ENV`',
  },
  'secrets.*': {
    message: 'must be a secret name of letters, digits and _ . - / : + = @',
    hint: 'e.g. DATABASE_URL: db-url (set it with `berth secret set db-url --env ENV`)',
  },
  protection: { message: 'must be a mapping', hint: 'e.g. protection: { deletion: true }' },
  'protection.deletion': {
    message: 'must be true or false',
    hint: 'true makes berth refuse to delete the service',
  },
  drift: {
    message: 'must be "heal" or "report"',
    hint: 'heal repairs drift automatically (the default); report only shows it',
  },
  environments: {
    message: 'must be a mapping of environment name to overrides',
    hint: 'e.g. environments: { production: { replicas: 4 } }',
  },
  'environments.*': { message: 'must be a mapping of overrides', hint: 'e.g. production: { replicas: 4 }' },
};

/** Paths inside `environments.<env>.` are described like the top-level field they override. */
function fieldPath(path: Path): Path {
  return path[0] === 'environments' && path.length > 2 ? path.slice(2) : path;
}

export function serviceRuleFor(path: Path): FieldRule | undefined {
  return matchRule(SERVICE_RULES, fieldPath(path));
}

const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(serviceFileSchema.shape),
  override: Object.keys(overrideSchema.shape),
  run: Object.keys(runSchema.shape),
  health: Object.keys(healthSchema.shape),
  protection: ['deletion'],
};

export function serviceKnownKeysAt(objectPath: Path): readonly string[] {
  if (objectPath[0] === 'environments' && objectPath.length === 2) return KNOWN_KEYS.override!;
  return own(KNOWN_KEYS, fieldPath(objectPath).join('.')) ?? [];
}

const MOVED_KEYS: Record<string, string> = {
  command: 'run.command',
  cmd: 'run.command',
  args: 'run.command',
  cwd: 'run.cwd',
  path: 'health.path',
  interval: 'health.interval',
  timeout: 'health.timeout',
  healthyThreshold: 'health.healthyThreshold',
  unhealthyThreshold: 'health.unhealthyThreshold',
  deletion: 'protection.deletion',
  healthcheck: 'health',
  health_check: 'health',
  healthCheck: 'health',
  domain: 'domains',
  hosts: 'domains',
  hostnames: 'domains',
  instances: 'replicas',
  count: 'replicas',
  scale: 'replicas',
  variables: 'env',
  secret: 'secrets',
  vars: 'env',
  container: 'image',
  docker: 'image',
  overrides: 'environments',
};

export function serviceUnknownKeyHint(objectPath: Path, key: string): string | undefined {
  const inOverride = objectPath[0] === 'environments' && objectPath.length === 2;
  if (inOverride && key === 'name')
    return 'the name is the same in every environment; set it at the top level only';
  if (inOverride && key === 'environments') return 'overrides cannot be nested';
  if (objectPath.length === 0 || inOverride) {
    if (key === 'environment') {
      return 'did you mean "env" (variables) or "environments" (per-environment overrides)?';
    }
    const moved = own(MOVED_KEYS, key);
    if (moved) return `did you mean "${moved}"?`;
  }
  if (fieldPath(objectPath).join('.') === 'health') {
    if (key === 'healthy') return 'did you mean "healthyThreshold"?';
    if (key === 'unhealthy') return 'did you mean "unhealthyThreshold"?';
  }
  return undefined;
}
