import type { CommandSpec } from '../registry.js';
import { UserError } from '../../core/errors.js';
import { PROMPT_SHELLS, promptHook, type PromptShell } from '../prompt-hooks.js';
import { keepPromptCurrent, recordConfig, touchPromptState } from '../prompt-state.js';

export const promptCommand: CommandSpec = {
  name: 'prompt',
  summary: 'a short segment for a shell prompt naming the environment (fast: touches no provider)',
  options: [
    {
      flags: '--init <shell>',
      description: `print a hook for your shell's startup file (${PROMPT_SHELLS.join(', ')}); it starts no program per prompt`,
    },
    { flags: '--refresh', description: 'rewrite the state file the hook reads', hidden: true },
  ],
  help: [
    'Set up (the hook puts the segment in front of your prompt; $BERTH_PROMPT holds it as text):',
    '  bash: eval "$(berth prompt --init bash)"      in ~/.bashrc',
    '  zsh:  eval "$(berth prompt --init zsh)"       in ~/.zshrc',
    '  fish: berth prompt --init fish | source       in ~/.config/fish/config.fish',
    'The hook reads <data dir>/prompt.tsv, which berth keeps current: the environment $BERTH_ENV',
    'names (else local), PROTECTED, the AWS account berth last verified, and the current context.',
  ].join('\n'),
  async run({ options, globals, io }) {
    if (options.init !== undefined) {
      const shell = String(options.init);
      if (!(PROMPT_SHELLS as readonly string[]).includes(shell)) {
        throw new UserError(`berth prompt --init supports ${PROMPT_SHELLS.join(', ')}, not "${shell}"`, {
          hint: 'e.g. eval "$(berth prompt --init bash)"',
        });
      }
      // A data dir given with --data-dir is written into the hook; otherwise the hook follows
      // $BERTH_HOME at every prompt, as berth does.
      const dataDir = globals.dataDirGiven ? globals.dataDir : undefined;
      io.out(promptHook(shell as PromptShell, { berth: [process.execPath, process.argv[1]!], dataDir }));
      return;
    }
    const { loadConfig, chooseEnvironment } = await import('../environment.js');
    if (options.refresh) {
      // Started in the background by the hook when the config or the contexts file changed.
      // Whatever happens, the state file ends up newer than both, so the hook does not retry
      // at every prompt while the config is, say, invalid.
      try {
        const config = await loadConfig(globals);
        keepPromptCurrent(() => recordConfig(globals.dataDir, config));
      } finally {
        keepPromptCurrent(() => touchPromptState(globals.dataDir));
      }
      return;
    }
    const { envColor } = await import('../render/banner.js');
    const env = chooseEnvironment(await loadConfig(globals), globals, false);
    const text = env.protected ? `berth:${env.name}!PROTECTED` : `berth:${env.name}`;
    // Colour only when stdout is a terminal; the words alone say where you are.
    io.out(
      process.stdout.isTTY && !globals.noColor && !process.env.NO_COLOR ? envColor(io, env)(text) : text,
    );
  },
};
