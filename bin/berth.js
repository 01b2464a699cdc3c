#!/usr/bin/env node
// The commonest first commands answer before the CLI is loaded at all: `--version` from
// package.json and `--help` from the command registry's data. Everything else goes to main,
// which in turn loads only the command that runs: from the bundle (dist/bundle, one file per
// command plus shared chunks, built by `npm run build`) when it is at least as new as tsc's output
// in dist/, else from dist/ itself (after a bare `tsc`, or a build without the bundle).
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
  // Node 22.1 and later keep V8's compiled code between runs (in the OS temp dir), which saves
  // most of the time spent compiling the CLI; Node 20 has no such cache for ES modules.
  module.enableCompileCache?.();
  const modified = (path) =>
    statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const bundle = modified('../dist/bundle/cli/main.js');
  await import(
    bundle >= 0 && bundle >= modified('../dist/cli/main.js')
      ? '../dist/bundle/cli/main.js'
      : '../dist/cli/main.js'
  );
}
