// Preloaded with `node --import` by tests that check what a command loads: every module a
// process resolves is appended, one URL a line, to the file named by $BERTH_MODULE_LOG: ES
// modules through the loader's hooks, and what CommonJS code require()s (the CLI's CommonJS
// bundle requires the packages outside it) through Node's CommonJS resolver.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./module-log-hooks.mjs', import.meta.url);

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const resolved = resolveFilename.apply(this, args);
  if (process.env.BERTH_MODULE_LOG && resolved.startsWith('/'))
    appendFileSync(process.env.BERTH_MODULE_LOG, `${pathToFileURL(resolved).href}\n`);
  return resolved;
};
