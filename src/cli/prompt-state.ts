/**
 * The small file behind the shell prompt, `<data dir>/prompt.tsv`: which environments exist, the
 * default one, their protection, colour and last verified identity, and the current context. The
 * hook that `berth prompt --init SHELL` prints reads it with shell built-ins at every prompt and
 * starts no process; berth keeps it current:
 * - every command that loads the environment config rewrites it when the config is newer;
 * - every command that verifies an identity records it;
 * - the hook itself starts one `berth prompt --refresh` in the background when the config or the
 *   contexts file changed behind berth's back (an edit), so one prompt later it is right again.
 *
 * One line per fact, tab-separated, `-` for an empty field (a tab run would merge fields):
 *   default <env>            context <name>
 *   env <name> <PROTECTED|-> <colour> <provider> <identity|->
 */
import { readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { readFileOrNull, writeFileAtomic } from '../runtime/files.js';
import type { BerthConfig } from '../spec/types.js';

export const PROMPT_STATE_FILE = 'prompt.tsv';
const CONFIG_FILE = 'berth.config.yaml';
const CONTEXTS_FILE = 'contexts.json';

export interface PromptEnv {
  name: string;
  protected: boolean;
  color: string;
  provider: string;
  /** The last identity berth verified for the environment (for AWS the account id). */
  identity: string | null;
}

export interface PromptState {
  default: string | null;
  context: string | null;
  envs: PromptEnv[];
}

export function promptStatePath(dataDir: string): string {
  return join(dataDir, PROMPT_STATE_FILE);
}

/** One field: no tabs, newlines or control characters (the shell splits on tabs). */
function field(value: string | null | undefined): string {
  const text = [...(value ?? '')]
    .map((char) => (char < ' ' || char === '\x7f' ? ' ' : char))
    .join('')
    .replace(/ +/g, ' ')
    .trim();
  return text === '' ? '-' : text;
}

const fromField = (text: string | undefined) => (text === undefined || text === '-' ? null : text);

export function formatPromptState(state: PromptState): string {
  const lines = ['# written by berth for the shell prompt hook (berth prompt --init SHELL); do not edit'];
  lines.push(`default\t${field(state.default)}`, `context\t${field(state.context)}`);
  for (const env of state.envs) {
    const guard = env.protected ? 'PROTECTED' : '-';
    lines.push(
      ['env', field(env.name), guard, field(env.color), field(env.provider), field(env.identity)].join('\t'),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function parsePromptState(text: string): PromptState {
  const state: PromptState = { default: null, context: null, envs: [] };
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.split('\t');
    if (kind === 'default') state.default = fromField(fields[0]);
    else if (kind === 'context') state.context = fromField(fields[0]);
    else if (kind === 'env' && fields[0]) {
      state.envs.push({
        name: fields[0],
        protected: fields[1] === 'PROTECTED',
        color: fromField(fields[2]) ?? 'white',
        provider: fromField(fields[3]) ?? 'local',
        identity: fromField(fields[4]),
      });
    }
  }
  return state;
}

export function readPromptState(dataDir: string): PromptState | null {
  const text = readFileOrNull(promptStatePath(dataDir));
  return text === null ? null : parsePromptState(text);
}

/** The current context's name from `<data dir>/contexts.json`, read leniently: null when none. */
function currentContextName(dataDir: string): string | null {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, CONTEXTS_FILE), 'utf8')) as { current?: unknown };
    return typeof parsed.current === 'string' ? parsed.current : null;
  } catch {
    return null;
  }
}

function mtimeMs(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** The state file is missing, or older than the config or the contexts file. */
export function promptStateIsStale(dataDir: string): boolean {
  const state = mtimeMs(promptStatePath(dataDir));
  if (state === null) return true;
  return [CONFIG_FILE, CONTEXTS_FILE].some((name) => (mtimeMs(join(dataDir, name)) ?? 0) > state);
}

function write(dataDir: string, state: PromptState): void {
  const path = promptStatePath(dataDir);
  const text = formatPromptState(state);
  // Rewrite only on change, but always bring the file's time past the config's: the hook
  // compares the two to decide whether to refresh.
  if (readFileOrNull(path) === text && !promptStateIsStale(dataDir)) return;
  writeFileAtomic(path, text, 0o600);
}

/** Rewrites the file from the environment config, keeping identities already verified. */
export function recordConfig(dataDir: string, config: BerthConfig): void {
  const previous = readPromptState(dataDir);
  const identities = new Map((previous?.envs ?? []).map((env) => [env.name, env.identity]));
  const envs = Object.values(config.environments).map((env): PromptEnv => ({
    name: env.name,
    protected: env.protected,
    color: env.color,
    provider: env.provider,
    identity: identities.get(env.name) ?? null,
  }));
  write(dataDir, {
    default: config.environments.local ? 'local' : null,
    context: currentContextName(dataDir),
    envs,
  });
}

/** Records the identity just verified for an environment (only when it differs). */
export function recordIdentity(dataDir: string, envName: string, identity: string): void {
  const state = readPromptState(dataDir);
  const env = state?.envs.find((e) => e.name === envName);
  if (!state || !env || env.identity === identity) return;
  env.identity = identity;
  write(dataDir, state);
}

/** Marks the file as up to date (creating it empty if need be), whatever its content. */
export function touchPromptState(dataDir: string): void {
  const path = promptStatePath(dataDir);
  if (readFileOrNull(path) === null) {
    writeFileAtomic(path, formatPromptState({ default: null, context: null, envs: [] }), 0o600);
  } else {
    const now = new Date();
    utimesSync(path, now, now);
  }
}

/**
 * Keeps the prompt file current without ever failing the command that calls it: the prompt is
 * a convenience, a read-only or full data dir must not turn a deploy into an error.
 */
export function keepPromptCurrent(update: () => void): void {
  try {
    update();
  } catch {
    // the next command that can write will bring it up to date
  }
}
