#!/usr/bin/env node
// The commonest first commands answer before the CLI is loaded at all: `--version` from
// package.json and `--help` from the command registry's data. Everything else goes to main,
// which in turn runs only the command that is asked for. Where main comes from, the first that
// applies (each only when it is at least as new as tsc's output in dist/):
// 1. dist/bundle/cli.cjs, the whole CLI in one CommonJS file, compiled with V8's code cache (see
//    runWithCodeCache); BERTH_CODE_CACHE=0 skips it.
// 2. dist/bundle/cli/main.js, the same code as ES modules, one file per command plus shared chunks.
// 3. dist/cli/main.js itself (after a bare `tsc`, or a build without the bundle).
import { statSync } from 'node:fs';
import module from 'node:module';

const args = process.argv.slice(2);
const only = args.length === 1 ? args[0] : undefined;
if (only === '--version' || only === '-V') {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else if (only === '--help' || only === '-h' || only === 'help') {
  const { printTopLevelHelp } = await import('../dist/cli/quick-help.js');
  printTopLevelHelp();
} else {
  // Node 22.1 and later keep V8's compiled code of ES modules between runs (in the OS temp dir).
  module.enableCompileCache?.();
  const stat = (path) => statSync(new URL(path, import.meta.url), { throwIfNoEntry: false });
  const tsc = stat('../dist/cli/main.js')?.mtimeMs ?? -1;
  const cjs = stat('../dist/bundle/cli.cjs');
  const esm = stat('../dist/bundle/cli/main.js')?.mtimeMs ?? -1;
  if (cjs && cjs.mtimeMs >= tsc && process.env.BERTH_CODE_CACHE !== '0') {
    const { runWithCodeCache } = await import('./code-cache.js');
    runWithCodeCache(new URL('../dist/bundle/cli.cjs', import.meta.url), cjs, args);
  } else {
    await import(esm >= 0 && esm >= tsc ? '../dist/bundle/cli/main.js' : '../dist/cli/main.js');
  }
}
