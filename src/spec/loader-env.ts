/**
 * Environment variables that change how programs load rather than what they do: a value for one
 * of them makes every program of the service (and each one it starts) load code it did not ask
 * for, or find a different program than the one named. berth refuses them in `env:` unless the
 * spec lists them in `allowLoaderEnv:`, so that such a change is deliberate and visible in review.
 */

import { UserError } from '../core/errors.js';

/** Exact names (besides the LD_* and DYLD_* families). */
const LOADER_NAMES: ReadonlySet<string> = new Set([
  'NODE_OPTIONS', // --require / --import: code loaded into every node process
  'BASH_ENV', // a file every non-interactive bash sources first
  'JAVA_TOOL_OPTIONS', // -javaagent: code loaded into every JVM
  'JDK_JAVA_OPTIONS',
  '_JAVA_OPTIONS',
  'PERL5OPT', // -M: a module loaded into every perl
  'RUBYOPT', // -r: a library loaded into every ruby
  'PYTHONSTARTUP',
]);

/**
 * The same rules as JSON Schema patterns, for the API's OpenAPI document: an env name that is
 * not a loader variable, and a PATH whose every entry is absolute.
 */
export const NOT_LOADER_NAME_PATTERN = `^(?!LD_|DYLD_|(?:${[...LOADER_NAMES].join('|')})$)`;
export const SAFE_PATH_PATTERN = '^/[^:]*(:/[^:]*)*$';

/** What setting `name` would do, when it is a loader variable; undefined for an ordinary one. */
export function loaderVariable(name: string): string | undefined {
  if (name.startsWith('LD_'))
    return 'the dynamic linker reads it (LD_PRELOAD loads a library into every program)';
  if (name.startsWith('DYLD_'))
    return "macOS's dynamic linker reads it (DYLD_INSERT_LIBRARIES loads a library)";
  if (LOADER_NAMES.has(name)) return 'it makes the runtime of every program load extra code';
  return undefined;
}

/**
 * Why `PATH=value` would change which program runs: an empty entry (or an empty PATH) and a
 * relative one mean "the current directory", so a file there shadows the real program.
 */
export function unsafePath(value: string): string | undefined {
  if (value === '') return 'an empty PATH makes programs be looked up in the working directory';
  const entries = value.split(':');
  if (entries.some((entry) => entry === '')) {
    return 'an empty entry in PATH (a leading, trailing or doubled ":") means the working directory';
  }
  const relative = entries.find((entry) => !entry.startsWith('/'));
  if (relative !== undefined)
    return `the relative entry "${relative}" in PATH depends on the working directory`;
  return undefined;
}

/** Why this variable changes how programs load (undefined: it does not). */
export function loaderProblem(name: string, value: string): string | undefined {
  return name === 'PATH' ? unsafePath(value) : loaderVariable(name);
}

/** The hint shown with every refusal: what to do instead, and how to opt in. */
export function loaderHint(name: string): string {
  return (
    `remove ${name} from env:; if the service really needs it, say so explicitly with ` +
    `allowLoaderEnv: [${name}] in berth.yaml`
  );
}

/** The loader variables of `env` that `allowed` does not list: [name, why] pairs. */
export function disallowedLoaderEnv(
  env: Record<string, string>,
  allowed: readonly string[] | undefined,
): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (allowed?.includes(name)) continue;
    const problem = loaderProblem(name, value);
    if (problem) out.push([name, problem]);
  }
  return out;
}

/**
 * The error for a spec whose env sets loader variables it does not allow (exit 2), for specs that
 * reach the engine without passing berth.yaml's or the API's validation (an old revision).
 */
export function loaderEnvError(spec: {
  name: string;
  env: Record<string, string>;
  allowLoaderEnv?: string[];
}): UserError | undefined {
  const problems = disallowedLoaderEnv(spec.env, spec.allowLoaderEnv);
  if (problems.length === 0) return undefined;
  const [name] = problems[0]!;
  return new UserError(
    `${spec.name} sets ${problems.map(([n]) => n).join(', ')} in env, which ${problems.length === 1 ? 'changes' : 'change'} how programs load`,
    { code: 'loader_env', details: problems.map(([n, why]) => `${n}: ${why}`), hint: loaderHint(name) },
  );
}
