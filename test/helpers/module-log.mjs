// Preloaded with `node --import` by tests that check what a command loads: every module a
// process resolves is appended, one URL a line, to the file named by $BERTH_MODULE_LOG.
import { register } from 'node:module';

register('./module-log-hooks.mjs', import.meta.url);
