#!/usr/bin/env node
// The commonest first commands answer before the CLI is loaded at all: `--version` from
// package.json and `--help` from the command registry's data. Everything else goes to main,
// which in turn loads only the command that runs.
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
  await import('../dist/cli/main.js');
}
