import { UserError } from '../core/errors.js';
import { formatDiagnostics, loadServiceSpec } from '../spec/index.js';
import type { BerthConfig, EnvironmentConfig, ServiceSpec } from '../spec/types.js';
import type { Io } from './io.js';

/** Loads berth.yaml for an environment; every diagnostic at once, exit 2 when any is an error. */
export async function readSpec(
  path: string | undefined,
  env: EnvironmentConfig,
  config: BerthConfig,
  io: Io,
): Promise<ServiceSpec> {
  const loaded = await loadServiceSpec(path ?? '.', {
    env: env.name,
    envNames: Object.keys(config.environments),
  });
  const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning');
  if (warnings.length)
    for (const line of formatDiagnostics(loaded.file, warnings)) io.err(`warning: ${line}`);
  if (!loaded.config) {
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    throw new UserError(`${loaded.file} has ${errors.length} problem${errors.length === 1 ? '' : 's'}`, {
      code: 'invalid_spec',
      details: formatDiagnostics(loaded.file, errors),
      hint: 'fix them all and run the command again; nothing was changed',
    });
  }
  return loaded.config;
}
