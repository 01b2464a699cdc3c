/**
 * Contexts, as kubectl and flyctl have them: a named control plane (its stable URL and a token)
 * that the CLI talks to. `berth login URL --token T` saves one and makes it current, `berth
 * context use NAME` switches, `berth install` saves one for the control plane it deploys.
 *
 * A context names the control plane *service* (its hostname through the local proxy or the ALB),
 * never one replica's port: replicas come and go, the name stays. The file holds tokens, so it is
 * written with mode 0600: `<data dir>/contexts.json`.
 */
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../runtime/files.js';

export interface Context {
  name: string;
  /** The control plane's stable URL, e.g. http://berth.production.localhost:4080 or https://berth.example.com */
  url: string;
  token: string | null;
  /** The environment the control plane runs in as the service `berth`, when berth deployed it. */
  env?: string;
  createdAt: string;
}

interface ContextFile {
  current: string | null;
  contexts: Context[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function contextsPath(dataDir: string): string {
  return join(dataDir, 'contexts.json');
}

export function readContexts(dataDir: string): ContextFile {
  const path = contextsPath(dataDir);
  const text = readFileOrNull(path);
  if (text === null) return { current: null, contexts: [] };
  try {
    const parsed = JSON.parse(text) as Partial<ContextFile>;
    const contexts = Array.isArray(parsed.contexts)
      ? parsed.contexts.filter((c): c is Context => typeof c?.name === 'string' && typeof c?.url === 'string')
      : [];
    const current = typeof parsed.current === 'string' ? parsed.current : null;
    return { current, contexts };
  } catch (error) {
    throw new UserError(`the contexts file ${path} is not valid JSON`, {
      cause: error,
      hint: 'fix it, or remove it and log in again with `berth login URL --token T`',
    });
  }
}

function writeContexts(dataDir: string, file: ContextFile): void {
  writeFileAtomic(contextsPath(dataDir), `${JSON.stringify(file, null, 2)}\n`, 0o600);
}

/** The current context, or null when none is chosen (or the chosen one was removed). */
export function currentContext(dataDir: string): Context | null {
  const file = readContexts(dataDir);
  return file.contexts.find((c) => c.name === file.current) ?? null;
}

/** A context name: letters, digits, '.', '_', '-'. */
export function checkContextName(name: string): string {
  if (!NAME.test(name) || name === 'none') {
    throw new UserError(`"${name}" is not a valid context name`, {
      hint: 'use letters, digits, ".", "_" and "-" ("none" is reserved), e.g. --name production',
    });
  }
  return name;
}

/**
 * The base URL of a control plane, as typed by a user: http(s) only, no credentials, query or
 * fragment; a missing scheme means http for loopback names and https otherwise.
 */
export function normalizeApiUrl(raw: string): string {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
    ? text
    : `${/^(localhost|127\.|\[::1\]|[^/]*\.localhost)/i.test(text) ? 'http' : 'https'}://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UserError(`"${raw}" is not a URL`, {
      hint: 'e.g. berth login https://berth.example.com --token T',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`"${raw}" is not an http or https URL`, {
      hint: 'e.g. berth login https://berth.example.com --token T',
    });
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UserError(`"${raw}" must not carry a user, password, query or fragment`, {
      hint: 'give the token with --token, and the URL alone',
    });
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** Saves (or replaces) a context and makes it the current one. */
export function saveContext(
  dataDir: string,
  context: Omit<Context, 'createdAt'> & { createdAt?: string },
): Context {
  checkContextName(context.name);
  const file = readContexts(dataDir);
  const previous = file.contexts.find((c) => c.name === context.name);
  const createdAt = previous?.createdAt ?? context.createdAt ?? new Date().toISOString();
  const saved: Context = { ...context, createdAt };
  const contexts = [...file.contexts.filter((c) => c.name !== context.name), saved];
  writeContexts(dataDir, { current: context.name, contexts });
  return saved;
}

function unknown(name: string, file: ContextFile): UserError {
  const names = file.contexts.map((c) => c.name);
  return new UserError(`there is no context "${name}"`, {
    code: 'unknown_context',
    hint: names.length
      ? `contexts: ${names.join(', ')} (berth context ls)`
      : 'save one with: berth login URL --token T',
  });
}

/** Makes `name` the current context. */
export function useContext(dataDir: string, name: string): Context {
  const file = readContexts(dataDir);
  const context = file.contexts.find((c) => c.name === name);
  if (!context) throw unknown(name, file);
  writeContexts(dataDir, { ...file, current: name });
  return context;
}

/** Removes a context (and un-selects it when it was current). */
export function removeContext(dataDir: string, name: string): void {
  const file = readContexts(dataDir);
  if (!file.contexts.some((c) => c.name === name)) throw unknown(name, file);
  writeContexts(dataDir, {
    current: file.current === name ? null : file.current,
    contexts: file.contexts.filter((c) => c.name !== name),
  });
}

/** Un-selects the current context: the CLI goes back to this data dir's own `berth up` (api.json). */
export function clearCurrentContext(dataDir: string): void {
  const file = readContexts(dataDir);
  if (file.current !== null) writeContexts(dataDir, { ...file, current: null });
}
