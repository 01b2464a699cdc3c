import type { CommandSpec } from '../registry.js';
import { readApiDiscovery } from '../../api/paths.js';
import { clearCurrentContext, readContexts, removeContext, useContext } from '../contexts.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';

const ls: CommandSpec = {
  name: 'ls',
  summary: 'list saved contexts; * marks the current one',
  async run({ globals, io }) {
    const file = readContexts(globals.dataDir);
    const overridden = globals.api ?? process.env.BERTH_API;
    if (globals.json) {
      return printJson(io, {
        current: file.current,
        overriddenBy: overridden ?? null,
        contexts: file.contexts.map(({ token, ...rest }) => ({ ...rest, token: token ? 'saved' : null })),
      });
    }
    if (file.contexts.length === 0) {
      io.err('no contexts saved; save one with: berth login URL --token T (or berth install --env E)');
    } else {
      io.out(
        renderTable(
          ['CURRENT', 'NAME', 'URL', 'ENV', 'TOKEN'],
          file.contexts.map((c) => [
            c.name === file.current ? '*' : '',
            c.name,
            c.url,
            c.env ?? null,
            c.token ? 'saved' : null,
          ]),
          { width: io.width },
        ),
      );
    }
    if (overridden)
      io.err(`note: ${globals.api ? '--api' : '$BERTH_API'} (${overridden}) wins over the contexts`);
    else if (!file.current) {
      const discovery = readApiDiscovery(globals.dataDir);
      io.err(
        discovery && !discovery.stoppedAt
          ? `no current context: the CLI uses this data dir's berth up at ${discovery.url}`
          : 'no current context: commands run directly (engine in the CLI)',
      );
    }
  },
};

const use: CommandSpec = {
  name: 'use <name>',
  summary: 'make a saved context the current one ("none": back to this data dir\'s own berth up, or direct)',
  async run({ args, globals, io }) {
    const name = args[0]!;
    if (name === 'none') {
      clearCurrentContext(globals.dataDir);
      io.out('no current context');
      return;
    }
    const context = useContext(globals.dataDir, name);
    if (globals.json) return printJson(io, { current: context.name, url: context.url });
    io.out(`context "${context.name}" is current: ${context.url}`);
  },
};

const rm: CommandSpec = {
  name: 'rm <name>',
  summary: 'forget a saved context (and its token)',
  async run({ args, globals, io }) {
    removeContext(globals.dataDir, args[0]!);
    io.out(`context "${args[0]!}" removed`);
  },
};

export const contextCommand: CommandSpec = {
  name: 'context',
  summary: 'the control planes this CLI talks to (saved by berth login and berth install)',
  help: 'Precedence: --direct, then --api / $BERTH_API, then the current context, then <data dir>/api.json.',
  subcommands: [ls, use, rm],
};
