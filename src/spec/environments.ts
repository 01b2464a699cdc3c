/**
 * The environment config, `<data dir>/berth.config.yaml`: which environments exist, their provider,
 * colour, protection and drift policy. Written with safe defaults on first use, never overwritten.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { SERVICE_NAME_PATTERN } from '../core/ids.js';
import { UserError } from '../core/errors.js';
import {
  configFileSchema,
  configKnownKeysAt,
  configRuleFor,
  configUnknownKeyHint,
  type EnvironmentEntry,
} from './config-schema.js';
import {
  dedupe,
  hasErrors,
  isPlainObject,
  issuesToDiagnostics,
  makeDiagnostic,
  sortByLine,
  type LineOf,
} from './diagnostics.js';
import { mustBe, suggestLabel } from './schema-helpers.js';
import { closest } from './suggest.js';
import { readYamlFile } from './yaml-source.js';
import type { BerthConfig, Diagnostic, EnvironmentConfig, Normalized } from './types.js';

export const CONFIG_FILE_NAME = 'berth.config.yaml';

/** The file written when a data dir has no environment config yet. */
export const DEFAULT_CONFIG_YAML = `# berth environment config: one entry per environment berth can deploy to.
# berth wrote this file because there was none; edit it freely, berth never overwrites it.
#
# Each environment (its name is a DNS label: a-z, 0-9 and "-"):
#   provider:   local | aws
#   protected:  true makes destructive commands need --env written out and a typed confirmation
#   color:      red | yellow | green | cyan | blue | magenta | white (the banner colour; default cyan)
#   drift:      heal (repair drift automatically; the default) | report (only show it)
#   resync:     how often the reconciler lists everything (default 5s local, 30s aws)
#   local:      { domain: localhost }   services answer at <service>.<environment>.<domain>
#   identity:   optional; the identity the environment must run as (AWS: the account id)
#
# An AWS environment, for example:
#   aws-prod:
#     provider: aws
#     protected: true
#     color: red
#     aws:
#       accountId: '123456789012'
#       region: eu-west-1
#       cluster: apps
#       listenerArn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/apps/abc/def
#       hostedZoneId: Z0123456789ABC
#       domain: apps.example.com
#       table: berth-state
environments:
  local:
    provider: local
    color: green
    local:
      domain: localhost
  staging:
    provider: local
    color: yellow
    local:
      domain: localhost
  production:
    provider: local
    color: red
    protected: true
    local:
      domain: localhost
`;

/**
 * Validates a parsed berth.config.yaml. Defaults per environment: protected false, color "cyan",
 * drift "heal"; for provider local, local.domain "localhost". Provider aws requires an `aws`
 * block with accountId and region. Returns all diagnostics; `config` only when none is an error.
 */
export function normalizeBerthConfig(raw: unknown, opts: { lineOf?: LineOf } = {}): Normalized<BerthConfig> {
  const { lineOf } = opts;
  if (!isPlainObject(raw)) {
    const hint = 'the config is a mapping with one key, environments:';
    return { diagnostics: [makeDiagnostic('error', [], mustBe('a mapping', raw), hint, lineOf)] };
  }
  const diagnostics: Diagnostic[] = [];
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    diagnostics.push(
      ...issuesToDiagnostics(parsed.error.issues, {
        raw,
        ruleFor: configRuleFor,
        knownKeysAt: configKnownKeysAt,
        unknownKeyHint: configUnknownKeyHint,
        lineOf,
      }),
    );
  }
  diagnostics.push(...checkEnvironments(raw, lineOf));
  const all = dedupe(diagnostics);
  if (!parsed.success || hasErrors(all)) return { diagnostics: all };

  const environments: Record<string, EnvironmentConfig> = {};
  for (const [name, entry] of Object.entries(parsed.data.environments)) {
    environments[name] = toEnvironment(name, entry);
  }
  return { config: { environments }, diagnostics: all };
}

function toEnvironment(name: string, entry: EnvironmentEntry): EnvironmentConfig {
  const env: EnvironmentConfig = {
    name,
    provider: entry.provider,
    protected: entry.protected ?? false,
    color: entry.color ?? 'cyan',
    drift: entry.drift ?? 'heal',
  };
  if (entry.resync !== undefined) env.resyncMs = entry.resync;
  if (entry.provider === 'local' || entry.local) env.local = { domain: entry.local?.domain ?? 'localhost' };
  if (entry.aws) env.aws = { ...entry.aws };
  if (entry.identity !== undefined) env.identity = entry.identity;
  return env;
}

/** Rules across fields: names are DNS labels, at least one environment, aws settings for provider aws. */
function checkEnvironments(raw: Record<string, unknown>, lineOf: LineOf | undefined): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const environments = raw.environments;
  if (environments === undefined || environments === null) {
    const hint = 'e.g. environments: { local: { provider: local } }';
    return [makeDiagnostic('error', ['environments'], 'define at least one environment', hint, lineOf)];
  }
  if (!isPlainObject(environments)) return [];
  if (Object.keys(environments).length === 0) {
    const hint = 'e.g. environments: { local: { provider: local } }';
    diagnostics.push(
      makeDiagnostic('error', ['environments'], 'define at least one environment', hint, lineOf),
    );
  }
  for (const [name, entry] of Object.entries(environments)) {
    if (!SERVICE_NAME_PATTERN.test(name)) {
      const label = suggestLabel(name);
      diagnostics.push(
        makeDiagnostic(
          'error',
          ['environments', name],
          'an environment name must be 1-40 characters of a-z, 0-9 and "-", not starting or ending with "-"',
          label ? `it is used in host names; try ${label}` : 'it is used in host names, e.g. staging',
          lineOf,
        ),
      );
    }
    if (!isPlainObject(entry)) continue;
    if (entry.provider === 'aws' && (entry.aws === undefined || entry.aws === null)) {
      diagnostics.push(
        makeDiagnostic(
          'error',
          ['environments', name, 'aws'],
          'is required when provider is aws',
          "add aws: { accountId: '123456789012', region: eu-west-1, cluster, listenerArn, hostedZoneId, domain }",
          lineOf,
        ),
      );
    }
    if (entry.provider === 'local' && entry.aws !== undefined) {
      const message = 'is ignored because provider is local';
      diagnostics.push(
        makeDiagnostic(
          'warning',
          ['environments', name, 'aws'],
          message,
          'remove it or set provider: aws',
          lineOf,
        ),
      );
    }
    if (entry.provider === 'aws' && entry.local !== undefined) {
      const message = 'is ignored because provider is aws';
      diagnostics.push(
        makeDiagnostic(
          'warning',
          ['environments', name, 'local'],
          message,
          'remove it or set provider: local',
          lineOf,
        ),
      );
    }
  }
  return diagnostics;
}

/**
 * Reads `<dataDir>/berth.config.yaml`. When it does not exist, creates the data dir (mode 0700) and
 * writes DEFAULT_CONFIG_YAML (mode 0600): environments local (green), staging (yellow) and
 * production (red, protected), all provider local on localhost; `created` is then true. An existing
 * file is never overwritten. Problems, including an unwritable data dir, are diagnostics.
 */
export async function loadBerthConfig(
  dataDir: string,
): Promise<Normalized<BerthConfig> & { file: string; created: boolean }> {
  const file = path.join(path.resolve(dataDir), CONFIG_FILE_NAME);
  let created = false;
  try {
    created = await writeDefaultConfig(file);
  } catch (error) {
    const message = `cannot create ${file}: ${(error as Error).message}`;
    const hint = 'choose a writable data dir with --data-dir or $BERTH_HOME';
    return { file, created, diagnostics: [makeDiagnostic('error', [], message, hint, undefined)] };
  }
  const source = await readYamlFile(file, {
    message: `no ${CONFIG_FILE_NAME} at ${path.dirname(file)}`,
    hint: `delete the data dir's ${CONFIG_FILE_NAME} path if it is not a file, and run berth again`,
  });
  if (hasErrors(source.diagnostics)) return { file, created, diagnostics: sortByLine(source.diagnostics) };
  if (source.empty) {
    const hint = `delete it to have berth write the default, or add environments:`;
    return { file, created, diagnostics: [makeDiagnostic('error', [], `${file} is empty`, hint, undefined)] };
  }
  const result = normalizeBerthConfig(source.data, { lineOf: source.lineOf });
  const loaded: Normalized<BerthConfig> & { file: string; created: boolean } = {
    file,
    created,
    diagnostics: sortByLine([...source.diagnostics, ...result.diagnostics]),
  };
  if (result.config) loaded.config = result.config;
  return loaded;
}

/** Writes the default config unless the file exists; true when it was written. */
async function writeDefaultConfig(file: string): Promise<boolean> {
  const dir = path.dirname(file);
  const madeDir = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (madeDir !== undefined) await chmod(dir, 0o700);
  try {
    await writeFile(file, DEFAULT_CONFIG_YAML, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * The environment called `name`. Throws UserError (exit 2) when `name` is missing ("--env is
 * required") or unknown; both list the valid names, the latter with a did-you-mean.
 */
export function resolveEnvironment(config: BerthConfig, name: string | undefined): EnvironmentConfig {
  const names = Object.keys(config.environments);
  const listed = names.length > 0 ? names.join(', ') : '(none configured)';
  if (name === undefined || name.trim() === '') {
    throw new UserError('--env is required', {
      code: 'env_required',
      hint: `pass --env <name>; environments: ${listed}`,
      details: names.map((n) => `${n}${config.environments[n]!.protected ? ' (protected)' : ''}`),
    });
  }
  const env = Object.hasOwn(config.environments, name) ? config.environments[name] : undefined;
  if (env) return env;
  const suggestion = closest(name, names);
  throw new UserError(`unknown environment "${name}"`, {
    code: 'unknown_environment',
    hint: `${suggestion ? `did you mean "${suggestion}"? ` : ''}environments: ${listed}`,
  });
}
