/** Loading berth.yaml from disk: read, parse with line numbers, normalize for one environment. */
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { makeDiagnostic, sortByLine } from './diagnostics.js';
import { normalizeServiceSpec, type NormalizeOptions } from './normalize.js';
import { readYamlFile } from './yaml-source.js';
import type { Normalized, ServiceSpec } from './types.js';

export { formatDiagnostics } from './diagnostics.js';

export const SPEC_FILE_NAME = 'berth.yaml';

export type LoadServiceSpecOptions = Pick<NormalizeOptions, 'env' | 'envNames' | 'defaults'>;

/**
 * Reads `<dir>/berth.yaml` (or the file itself when `pathOrDir` is a file) and normalizes it for
 * `opts.env`, with `run.cwd` relative to the file's directory and a line on each diagnostic.
 * A missing file, YAML syntax errors (all of them), an empty file or a document that is not a
 * mapping are diagnostics too; this never throws. `file` is the absolute path that was read.
 * A `run.cwd` that is not an existing directory is a warning (it may exist only where it runs).
 */
export async function loadServiceSpec(
  pathOrDir: string,
  opts: LoadServiceSpecOptions,
): Promise<Normalized<ServiceSpec> & { file: string }> {
  const file = await specFilePath(pathOrDir);
  const source = await readYamlFile(file, {
    message: `no ${SPEC_FILE_NAME} at ${path.dirname(file)}`,
    hint: `create ${SPEC_FILE_NAME} there, or pass the directory (or file) that has one`,
  });
  if (source.diagnostics.some((d) => d.severity === 'error')) {
    return { file, diagnostics: sortByLine(source.diagnostics) };
  }
  if (source.empty) {
    const diagnostic = makeDiagnostic(
      'error',
      [],
      `${path.basename(file)} is empty`,
      'start with the service name and how to run it, e.g. name: my-service, run: { command: [node, server.js] }',
      undefined,
    );
    return { file, diagnostics: [...source.diagnostics, diagnostic] };
  }

  const result = normalizeServiceSpec(source.data, {
    ...opts,
    baseDir: path.dirname(file),
    lineOf: source.lineOf,
  });
  const diagnostics = [...source.diagnostics, ...result.diagnostics];
  const cwd = result.config?.run?.cwd;
  if (cwd && !(await isDirectory(cwd))) {
    const message = `${cwd} is not an existing directory`;
    const hint = 'run.cwd is relative to berth.yaml; the command will fail to start unless it exists';
    diagnostics.push(makeDiagnostic('warning', ['run', 'cwd'], message, hint, source.lineOf));
  }
  const loaded: Normalized<ServiceSpec> & { file: string } = { file, diagnostics: sortByLine(diagnostics) };
  if (result.config) loaded.config = result.config;
  return loaded;
}

/** `<dir>/berth.yaml` when `pathOrDir` is a directory (or does not exist as a file), else the path itself. */
async function specFilePath(pathOrDir: string): Promise<string> {
  const resolved = path.resolve(pathOrDir);
  try {
    const info = await stat(resolved);
    return info.isDirectory() ? path.join(resolved, SPEC_FILE_NAME) : resolved;
  } catch {
    // A path that does not exist: treat names ending in .yaml/.yml as the file itself.
    return /\.ya?ml$/i.test(resolved) ? resolved : path.join(resolved, SPEC_FILE_NAME);
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}
