import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory of berth's package.json (bin/, examples/, dist/dashboard/ are beside it). Found by
 * walking up from this module rather than by a fixed `../..`, because the same code runs from
 * src/ (tests), from dist/ (tsc's output) and from the CLI bundle, each at another depth.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'berth.js'))) return dir;
    if (dirname(dir) === dir) throw new Error(`berth's package.json not found above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

let version: string | undefined;

/** berth's version, from its package.json (read once). */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
  return version;
}
