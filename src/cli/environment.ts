import { RefusedError, UserError } from '../core/errors.js';
import { Engine } from '../engine/engine.js';
import { auditRefusal, directActor, isRefusal } from '../engine/guard.js';
import { createProvider } from '../providers/index.js';
import type { Provider, VerifiedIdentity } from '../providers/provider.js';
import { formatDiagnostics, loadBerthConfig, resolveEnvironment } from '../spec/index.js';
import type { BerthConfig, EnvironmentConfig } from '../spec/types.js';
import { openStateStore } from '../state/index.js';
import type { EventRecord, StateStore } from '../state/store.js';
import type { GlobalOptions } from './globals.js';
import type { Io } from './io.js';
import { renderBanner } from './render/banner.js';
import { keepPromptCurrent, promptStateIsStale, recordConfig, recordIdentity } from './prompt-state.js';

/** The environment a command acts on, with everything needed to act on it directly. */
export interface OpenEnvironment {
  config: BerthConfig;
  env: EnvironmentConfig;
  store: StateStore;
  provider: Provider;
  identity: VerifiedIdentity;
  engine(onEvent?: (event: EventRecord) => void): Engine;
  close(): Promise<void>;
}

export async function loadConfig(globals: GlobalOptions): Promise<BerthConfig> {
  const loaded = await loadBerthConfig(globals.dataDir);
  if (!loaded.config) {
    throw new UserError(`the environment config ${loaded.file} is invalid`, {
      details: formatDiagnostics(loaded.file, loaded.diagnostics),
      hint: 'fix the lines above; berth never rewrites an existing config',
    });
  }
  const config = loaded.config;
  // The shell prompt hook reads a summary of the config; bring it up to date after an edit.
  keepPromptCurrent(() => promptStateIsStale(globals.dataDir) && recordConfig(globals.dataDir, config));
  return config;
}

/**
 * Which environment: `--env`, else $BERTH_ENV, else `local`. A protected environment must be
 * named with `--env` for anything that changes it, so that it is never reached by default.
 */
export function chooseEnvironment(
  config: BerthConfig,
  globals: GlobalOptions,
  mutating: boolean,
): EnvironmentConfig {
  const fromFlag = globals.env;
  const name = fromFlag ?? process.env.BERTH_ENV ?? (config.environments.local ? 'local' : undefined);
  const env = resolveEnvironment(config, name);
  if (env.protected && mutating && !fromFlag) {
    throw new RefusedError(`${env.name} is protected: changes to it need --env ${env.name} written out`, {
      code: 'env_not_explicit',
      hint: `add --env ${env.name} to the command`,
    });
  }
  return env;
}

export async function openEnvironment(
  globals: GlobalOptions,
  io: Io,
  options: { mutating: boolean; banner?: boolean; config?: BerthConfig },
): Promise<OpenEnvironment> {
  const config = options.config ?? (await loadConfig(globals));
  let env: EnvironmentConfig;
  let provider: Provider | null = null;
  let identity: VerifiedIdentity;
  let verifiedAt = 0;
  try {
    env = chooseEnvironment(config, globals, options.mutating);
    provider = await createProvider(env, {
      dataDir: globals.dataDir,
      onRuntimeStart: (message) => io.err(io.color.dim(message)),
    });
    identity = await provider.identity();
    verifiedAt = Date.now();
  } catch (error) {
    await provider?.close().catch(() => undefined);
    if (isRefusal(error)) await auditCliRefusal(config, globals, options.mutating, error);
    throw error;
  }
  const verified = identity;
  keepPromptCurrent(() => recordIdentity(globals.dataDir, env.name, verified.id));
  if (options.banner !== false) io.err(renderBanner(io, env, identity));
  const store = await openStateStore(env, globals.dataDir);
  return {
    config,
    env,
    store,
    provider,
    identity,
    // The identity just verified (and shown in the banner) stands for the first change, so that
    // a deploy asks the provider once, not again before its operation and in its first step.
    engine: (onEvent) =>
      new Engine({ store, provider, env, onEvent, verified: { identity: verified, at: verifiedAt } }),
    close: async () => {
      await store.close();
      await provider.close();
    },
  };
}

/**
 * A refusal before any engine ran (credentials of another account, a protected environment not
 * named with --env) is audited in the environment's own store, like every refusal.
 */
export async function auditCliRefusal(
  config: BerthConfig,
  globals: GlobalOptions,
  mutating: boolean,
  error: unknown,
): Promise<void> {
  const name = globals.env ?? process.env.BERTH_ENV ?? (config.environments.local ? 'local' : undefined);
  const env = name ? config.environments[name] : undefined;
  if (!env) return;
  const store = await openStateStore(env, globals.dataDir).catch(() => null);
  if (!store) return;
  try {
    await auditRefusal(store, {
      actor: directActor(),
      env: env.name,
      action: mutating ? 'open environment to change it' : 'open environment',
      error,
    });
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** Runs `work` with an open environment and always closes it. */
export async function withEnvironment<T>(
  globals: GlobalOptions,
  io: Io,
  options: { mutating: boolean; banner?: boolean; config?: BerthConfig },
  work: (open: OpenEnvironment) => Promise<T>,
): Promise<T> {
  const open = await openEnvironment(globals, io, options);
  try {
    return await work(open);
  } finally {
    await open.close();
  }
}
