/**
 * berth.yaml -> ServiceSpec for one environment: validate everything, apply that environment's
 * overrides, fill defaults. Every problem is a Diagnostic; nothing here throws.
 */
import path from 'node:path';

import { parseArgsStringToArgv } from 'string-argv';

import {
  dedupe,
  hasErrors,
  isPlainObject,
  issuesToDiagnostics,
  makeDiagnostic,
  own,
  type LineOf,
  type Path,
} from './diagnostics.js';
import { formatDuration } from './duration.js';
import { mustBe } from './schema-helpers.js';
import {
  ENV_VAR_NAME_PATTERN,
  healthSchema,
  RESERVED_ENV_VARS,
  serviceFileSchema,
  serviceKnownKeysAt,
  serviceRuleFor,
  serviceUnknownKeyHint,
  type ServiceFile,
} from './service-schema.js';
import { closest } from './suggest.js';
import { disallowedLoaderEnv, loaderHint } from './loader-env.js';
import type { Diagnostic, DriftPolicy, HealthSpec, Normalized, ServiceSpec } from './types.js';

export const DEFAULT_PORT = 8080;
export const DEFAULT_REPLICAS = 1;
export const DEFAULT_HEALTH: Readonly<HealthSpec> = {
  path: '/',
  intervalMs: 2000,
  timeoutMs: 1000,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
};

export interface NormalizeOptions {
  /** The environment to resolve the spec for; its `environments.<env>` overrides are applied. */
  env: string;
  /** Every environment in berth.config.yaml; an override for any other name is an error. */
  envNames: readonly string[];
  /** The directory of berth.yaml: `run.cwd` is resolved against it. */
  baseDir: string;
  /** The 1-based source line of a path, when the spec came from a file. */
  lineOf?: LineOf;
  /** Defaults that come from the environment, used when the spec does not say. */
  defaults?: { drift?: DriftPolicy };
}

/**
 * Validates a parsed berth.yaml and resolves it for `opts.env`. Defaults: port 8080, replicas 1,
 * health { path "/", interval 2s, timeout 1s, healthyThreshold 1, unhealthyThreshold 3 },
 * domains [], env {}, protection.deletion false (true for the control plane's own service, `berth`), drift `opts.defaults.drift` else "heal",
 * run.cwd = baseDir. Overrides replace fields, except health (merged field by field) and
 * env (merged key by key). Returns all diagnostics; `config` only when none is an error.
 */
export function normalizeServiceSpec(raw: unknown, opts: NormalizeOptions): Normalized<ServiceSpec> {
  const { lineOf } = opts;
  if (!isPlainObject(raw)) {
    const hint =
      'write fields as "key: value" lines, e.g. name: my-service, then run: with command: [node, server.js]';
    return {
      diagnostics: [
        makeDiagnostic('error', [], mustBe('a mapping of fields (name, run, ...)', raw), hint, lineOf),
      ],
    };
  }

  const diagnostics: Diagnostic[] = [];
  const parsed = serviceFileSchema.safeParse(raw);
  if (!parsed.success) {
    diagnostics.push(
      ...issuesToDiagnostics(parsed.error.issues, {
        raw,
        ruleFor: serviceRuleFor,
        knownKeysAt: serviceKnownKeysAt,
        unknownKeyHint: serviceUnknownKeyHint,
        lineOf,
      }),
    );
  }
  diagnostics.push(...checkEnvironmentNames(raw, opts));
  diagnostics.push(...checkHealthTimings(raw, lineOf));
  diagnostics.push(...checkSomethingToRun(raw, opts));
  diagnostics.push(...coercionWarnings(raw, lineOf));

  if (parsed.success) diagnostics.push(...checkLoaderEnv(parsed.data, opts));
  if (parsed.success) diagnostics.push(...checkSecretNames(parsed.data, opts));

  const all = dedupe(diagnostics);
  if (!parsed.success || hasErrors(all)) return { diagnostics: all };
  return { config: resolve(parsed.data, opts), diagnostics: all };
}

/** Loader variables in the resolved env: that allowLoaderEnv: does not list, each where it was set. */
function checkLoaderEnv(file: ServiceFile, opts: NormalizeOptions): Diagnostic[] {
  const spec = resolve(file, opts);
  const override = (file.environments && own(file.environments, opts.env)) ?? {};
  return disallowedLoaderEnv(spec.env, spec.allowLoaderEnv).map(([name, why]) =>
    makeDiagnostic(
      'error',
      override.env && Object.hasOwn(override.env, name)
        ? ['environments', opts.env, 'env', name]
        : ['env', name],
      `${name} changes how programs load: ${why}`,
      loaderHint(name),
      opts.lineOf,
    ),
  );
}

/** A variable set both in env: (a plain value) and in secrets: is ambiguous; PORT is berth's. */
function checkSecretNames(file: ServiceFile, opts: NormalizeOptions): Diagnostic[] {
  const spec = resolve(file, opts);
  const out: Diagnostic[] = [];
  for (const name of Object.keys(spec.secrets ?? {})) {
    const path = ['secrets', name];
    if (Object.hasOwn(spec.env, name)) {
      out.push(
        makeDiagnostic(
          'error',
          path,
          `${name} is set in env: too`,
          'keep it in one place: secrets: for a secret',
          opts.lineOf,
        ),
      );
    } else if (Object.hasOwn(RESERVED_ENV_VARS, name)) {
      out.push(makeDiagnostic('error', path, `${name} is reserved`, RESERVED_ENV_VARS[name], opts.lineOf));
    } else if (disallowedLoaderEnv({ [name]: 'x' }, spec.allowLoaderEnv).length > 0) {
      out.push(
        makeDiagnostic('error', path, `${name} changes how programs load`, loaderHint(name), opts.lineOf),
      );
    }
  }
  return out;
}

/**
 * The service that runs berth's own control plane. Deleting it is what began the outage berth is
 * built against, so its deletion protection is on unless its berth.yaml turns it off.
 */
export const CONTROL_PLANE_SERVICE = 'berth';

function resolve(file: ServiceFile, opts: NormalizeOptions): ServiceSpec {
  const override = (file.environments && own(file.environments, opts.env)) ?? {};
  const run = override.run ?? file.run;
  const image = override.image ?? file.image;
  const spec: ServiceSpec = {
    name: file.name,
    port: override.port ?? file.port ?? DEFAULT_PORT,
    replicas: override.replicas ?? file.replicas ?? DEFAULT_REPLICAS,
    health: { ...DEFAULT_HEALTH, ...healthFields(file.health), ...healthFields(override.health) },
    domains: [...(override.domains ?? file.domains ?? [])],
    env: { ...file.env, ...override.env },
    protection: {
      deletion:
        override.protection?.deletion ?? file.protection?.deletion ?? file.name === CONTROL_PLANE_SERVICE,
    },
    drift: override.drift ?? file.drift ?? opts.defaults?.drift ?? 'heal',
  };
  if (run) spec.run = { command: [...run.command], cwd: path.resolve(opts.baseDir, run.cwd ?? '.') };
  if (image !== undefined) spec.image = image;
  const allowLoaderEnv = override.allowLoaderEnv ?? file.allowLoaderEnv ?? [];
  if (allowLoaderEnv.length > 0) spec.allowLoaderEnv = [...new Set(allowLoaderEnv)];
  const secrets = { ...file.secrets, ...override.secrets };
  if (Object.keys(secrets).length > 0) spec.secrets = secrets;
  return spec;
}

type ParsedHealth = NonNullable<ServiceFile['health']>;

/** The health fields that were set, renamed to HealthSpec's names. */
function healthFields(health: ParsedHealth | undefined): Partial<HealthSpec> {
  const out: Partial<HealthSpec> = {};
  if (!health) return out;
  if (health.path !== undefined) out.path = health.path;
  if (health.interval !== undefined) out.intervalMs = health.interval;
  if (health.timeout !== undefined) out.timeoutMs = health.timeout;
  if (health.healthyThreshold !== undefined) out.healthyThreshold = health.healthyThreshold;
  if (health.unhealthyThreshold !== undefined) out.unhealthyThreshold = health.unhealthyThreshold;
  return out;
}

function overridesOf(raw: Record<string, unknown>): [string, Record<string, unknown>][] {
  if (!isPlainObject(raw.environments)) return [];
  return Object.entries(raw.environments).flatMap(([name, value]) =>
    isPlainObject(value) ? [[name, value] as [string, Record<string, unknown>]] : [],
  );
}

function checkEnvironmentNames(raw: Record<string, unknown>, opts: NormalizeOptions): Diagnostic[] {
  if (!isPlainObject(raw.environments)) return [];
  const known = opts.envNames;
  const listed =
    known.length > 0
      ? `environments in berth.config.yaml: ${known.join(', ')}`
      : 'no environments are configured';
  return Object.keys(raw.environments)
    .filter((name) => !known.includes(name))
    .map((name) => {
      const suggestion = closest(name, known);
      const hint = suggestion ? `did you mean "${suggestion}"? ${listed}` : listed;
      return makeDiagnostic(
        'error',
        ['environments', name],
        `unknown environment "${name}"`,
        hint,
        opts.lineOf,
      );
    });
}

/** timeout must be shorter than interval, at the top level and in every override that changes either. */
function checkHealthTimings(raw: Record<string, unknown>, lineOf: LineOf | undefined): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const parseHealth = (value: unknown): ParsedHealth | undefined => {
    if (value === undefined || value === null) return {};
    const result = healthSchema.safeParse(value);
    return result.success ? result.data : undefined;
  };
  const check = (health: Partial<HealthSpec>, prefix: Path, own: ParsedHealth) => {
    const merged = { ...DEFAULT_HEALTH, ...health };
    if (merged.timeoutMs < merged.intervalMs) return;
    const field = own.timeout !== undefined || own.interval === undefined ? 'timeout' : 'interval';
    const message = `timeout (${formatDuration(merged.timeoutMs)}) must be shorter than interval (${formatDuration(merged.intervalMs)})`;
    const hint =
      'a check must finish before the next one starts: lower health.timeout or raise health.interval';
    diagnostics.push(makeDiagnostic('error', [...prefix, 'health', field], message, hint, lineOf));
  };

  const base = parseHealth(raw.health);
  if (base) check(healthFields(base), [], base);
  for (const [name, override] of overridesOf(raw)) {
    const own = parseHealth(override.health);
    if (!base || !own || (own.interval === undefined && own.timeout === undefined)) continue;
    check({ ...healthFields(base), ...healthFields(own) }, ['environments', name], own);
  }
  return diagnostics;
}

function checkSomethingToRun(raw: Record<string, unknown>, opts: NormalizeOptions): Diagnostic[] {
  const present = (value: unknown) => value !== undefined && value !== null;
  const override = isPlainObject(raw.environments) ? own(raw.environments, opts.env) : undefined;
  const inOverride = isPlainObject(override) && (present(override.run) || present(override.image));
  if (present(raw.run) || present(raw.image) || inOverride) return [];
  return [
    makeDiagnostic(
      'error',
      ['run'],
      `nothing to run in environment "${opts.env}": set run.command or image`,
      'add run.command for the local provider, e.g. run: { command: [node, server.js] }; the AWS provider runs image',
      opts.lineOf,
    ),
  ];
}

const SHELL_OPERATORS = new Set(['|', '||', '&&', '&', ';', '>', '>>', '<', '2>', '2>&1']);

/** Warnings for values that work but may not mean what was meant. */
function coercionWarnings(raw: Record<string, unknown>, lineOf: LineOf | undefined): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const scopes: [Path, Record<string, unknown>][] = [
    [[], raw],
    ...overridesOf(raw).map(([name, value]): [Path, Record<string, unknown>] => [
      ['environments', name],
      value,
    ]),
  ];
  for (const [prefix, scope] of scopes) {
    if (isPlainObject(scope.env)) {
      for (const [name, value] of Object.entries(scope.env)) {
        const coerced = (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
        if (coerced && ENV_VAR_NAME_PATTERN.test(name) && !own(RESERVED_ENV_VARS, name)) {
          diagnostics.push(
            makeDiagnostic(
              'warning',
              [...prefix, 'env', name],
              `${typeof value} ${String(value)} was turned into the string "${String(value)}"`,
              `quote it to keep it exactly as written: ${name}: "..."`,
              lineOf,
            ),
          );
        }
      }
    }
    const command = isPlainObject(scope.run) ? scope.run.command : undefined;
    if (Array.isArray(command)) {
      command.forEach((arg, i) => {
        if ((typeof arg === 'number' && Number.isFinite(arg)) || typeof arg === 'boolean') {
          diagnostics.push(
            makeDiagnostic(
              'warning',
              [...prefix, 'run', 'command', i],
              `${typeof arg} ${String(arg)} was turned into the string "${String(arg)}"`,
              'quote it to keep it exactly as written',
              lineOf,
            ),
          );
        }
      });
    } else if (typeof command === 'string') {
      const operators = parseArgsStringToArgv(command).filter(
        (arg) => SHELL_OPERATORS.has(arg) || arg.startsWith('$'),
      );
      if (operators.length > 0) {
        diagnostics.push(
          makeDiagnostic(
            'warning',
            [...prefix, 'run', 'command'],
            `berth runs commands without a shell, so ${operators.map((op) => JSON.stringify(op)).join(', ')} ` +
              `${operators.length === 1 ? 'reaches' : 'reach'} the program as plain ${operators.length === 1 ? 'argument' : 'arguments'}`,
            'to use shell features, say so explicitly: command: [sh, -c, "..."]',
            lineOf,
          ),
        );
      }
    }
  }
  return diagnostics;
}
