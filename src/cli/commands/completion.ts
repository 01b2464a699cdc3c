import { existsSync } from 'node:fs';
import type { CommandSpec } from '../registry.js';
import { UserError } from '../../core/errors.js';
import { COMPLETION_SHELLS, completables, completionScript, type CompletionShell } from '../completion.js';
import { promptStateIsStale, readPromptState } from '../prompt-state.js';

export const completionCommand: CommandSpec = {
  name: 'completion <shell>',
  summary: 'print shell completion for bash, zsh or fish (commands, options, environments, services)',
  help: [
    'Set up:',
    '  bash: eval "$(berth completion bash)"      in ~/.bashrc',
    '  zsh:  eval "$(berth completion zsh)"       in ~/.zshrc',
    '  fish: berth completion fish | source       in ~/.config/fish/config.fish',
  ].join('\n'),
  async run({ args, io }) {
    const shell = args[0]!;
    if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
      throw new UserError(`berth completion supports ${COMPLETION_SHELLS.join(', ')}, not "${shell}"`, {
        hint: 'e.g. eval "$(berth completion bash)"',
      });
    }
    const { COMMANDS } = await import('./index.js');
    const commands = await completables(COMMANDS);
    io.out(completionScript(shell as CompletionShell, commands, [process.execPath, process.argv[1]!]));
  },
};

/**
 * `berth __complete envs|services`: the names a completion offers, one a line, from local files
 * only (the prompt state file, the SQLite state): fast, and silent when there is nothing.
 */
export const completeNamesCommand: CommandSpec = {
  name: '__complete <what>',
  summary: 'names for shell completion (internal)',
  hidden: true,
  async run({ args, globals, io }) {
    const { dataDir } = globals;
    if (promptStateIsStale(dataDir) && existsSync(dataDir)) {
      // The config changed since berth last read it: read it now (slower, once).
      const { loadConfig } = await import('../environment.js');
      await loadConfig(globals).catch(() => undefined);
    }
    const state = readPromptState(dataDir);
    if (!state) return;
    if (args[0] === 'envs') {
      for (const env of state.envs) io.out(env.name);
      return;
    }
    if (args[0] !== 'services') return;
    const envName = globals.env ?? process.env.BERTH_ENV ?? state.default;
    const env = state.envs.find((e) => e.name === envName);
    // Only environments whose state is in this data dir's SQLite file; never a network call.
    if (!env || env.provider !== 'local' || !existsSync(`${dataDir}/state.db`)) return;
    const { SqliteStateStore, defaultStatePath } = await import('../../state/sqlite/store.js');
    const store = SqliteStateStore.open(defaultStatePath(dataDir));
    try {
      for (const service of await store.listServices(env.name)) io.out(service.name);
    } finally {
      await store.close();
    }
  },
};
