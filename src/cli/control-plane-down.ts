/**
 * The CLI as the last line: when the API cannot be reached, look directly (state store and
 * provider, as `--direct` does) at the control plane's own service `berth`. When that is what
 * broke, say so and print the one command that brings it back; in 2016, finding that command
 * took 28 of the outage's 31 minutes.
 */
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { UserError } from '../core/errors.js';
import {
  diagnoseControlPlane,
  lastControlPlaneRevision,
  recordControlPlaneDown,
  type ControlPlaneDiagnosis,
} from '../engine/self-host.js';
import { createProvider } from '../providers/index.js';
import { connectRuntime } from '../runtime/launcher.js';
import { openStateStore } from '../state/index.js';
import { defaultStatePath } from '../state/sqlite/store.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { ApiTarget } from './backend.js';
import { loadConfig } from './environment.js';
import type { GlobalOptions } from './globals.js';

/** How long the whole look may take: it only adds to a message, it must not hang the CLI. */
const DIAGNOSIS_BUDGET_MS = 8000;

/**
 * The control plane's state in one environment, or null when berth was never installed there.
 * Reads the store first and touches the provider only for an installed control plane; it never
 * starts a local runtime (one that is not running is itself the finding).
 */
async function diagnose(
  globals: GlobalOptions,
  env: EnvironmentConfig,
): Promise<ControlPlaneDiagnosis | null> {
  if (env.provider === 'local' && !existsSync(defaultStatePath(globals.dataDir))) return null;
  const store = await openStateStore(env, globals.dataDir);
  try {
    if (!(await lastControlPlaneRevision(store, env.name))) return null;
    if (env.provider === 'local' && !(await connectRuntime(globals.dataDir))) {
      const diagnosis: ControlPlaneDiagnosis = {
        env: env.name,
        installed: true,
        status: null,
        broken: true,
        problems: ['the local runtime that runs it is not running'],
      };
      await recordControlPlaneDown(store, diagnosis, `the CLI (${osUser()}@${hostname()})`);
      return diagnosis;
    }
    const provider = await createProvider(env, { dataDir: globals.dataDir });
    try {
      const diagnosis = await diagnoseControlPlane(store, provider, env);
      if (diagnosis.broken)
        await recordControlPlaneDown(store, diagnosis, `the CLI (${osUser()}@${hostname()})`);
      return diagnosis;
    } finally {
      await provider.close();
    }
  } finally {
    await store.close();
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function withinBudget<T>(work: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
    timer.unref();
  });
  return Promise.race([work.catch(() => null), timeout]).finally(() => clearTimeout(timer));
}

/**
 * A better exit-4 error than "cannot be reached", when the environments say why: the control
 * plane service is broken (→ `berth recover --env E`), or it looks healthy (→ the URL or the
 * network). The environment to look in is the context's, else every configured one.
 */
export async function explainUnreachable(
  globals: GlobalOptions,
  target: ApiTarget,
  error: UserError,
): Promise<UserError> {
  const config = await loadConfig(globals);
  const named = target.context?.env ? config.environments[target.context.env] : undefined;
  const candidates = named ? [named] : Object.values(config.environments);
  const found = await withinBudget(
    Promise.all(candidates.map((env) => diagnose(globals, env).catch(() => null))),
    DIAGNOSIS_BUDGET_MS,
  );
  const installed = (found ?? []).filter((d): d is ControlPlaneDiagnosis => d !== null && d.installed);
  const broken = installed.find((d) => d.broken);
  if (broken) {
    const command = `berth recover --env ${broken.env}`;
    const active = broken.status?.activeOperation;
    if (active) {
      // Another control plane is on it: say so, and still name the command that does not depend on it.
      return new UserError(
        `the berth API at ${target.url} cannot be reached: the control plane itself (service berth in ${broken.env}) is down, and a ${active.kind} of it is under way (${active.id}${active.step ? `, step "${active.step}"` : ''})`,
        {
          code: 'control_plane_down',
          exitCode: 4,
          cause: error,
          details: broken.problems,
          hint: `retry in a few seconds; if it does not come back, bring it back with:\n\n    ${command}\n`,
        },
      );
    }
    return new UserError(
      `the berth API at ${target.url} cannot be reached: the control plane itself (service berth in ${broken.env}) is down`,
      {
        code: 'control_plane_down',
        exitCode: 4,
        cause: error,
        details: broken.problems,
        hint: `bring it back (from berth's own record, no berth.yaml needed) with:\n\n    ${command}\n`,
      },
    );
  }
  const healthy = installed[0];
  if (healthy) {
    return new UserError(
      `${error.message}; yet the control plane (service berth in ${healthy.env}) looks healthy from here`,
      {
        code: 'api_unreachable',
        exitCode: 4,
        cause: error,
        details: healthy.status?.urls.length ? [`it answers at: ${healthy.status.urls.join(', ')}`] : [],
        hint: `check the URL you use (berth context ls) and the network; or act without the API: add --direct`,
      },
    );
  }
  return error;
}
