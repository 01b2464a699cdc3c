import type { CommandSpec } from '../registry.js';
import { loadConfig, chooseEnvironment } from '../environment.js';
import { envColor } from '../render/banner.js';

export const promptCommand: CommandSpec = {
  name: 'prompt',
  summary: 'a short segment for a shell prompt naming the environment (fast: touches no provider)',
  help: "Example (bash):\n  PS1='$(berth prompt) \\w \\$ '",
  async run({ globals, io }) {
    const env = chooseEnvironment(await loadConfig(globals), globals, false);
    const text = env.protected ? `berth:${env.name}!PROTECTED` : `berth:${env.name}`;
    // Colour only when stdout is a terminal; the words alone say where you are.
    io.out(
      process.stdout.isTTY && !globals.noColor && !process.env.NO_COLOR ? envColor(io, env)(text) : text,
    );
  },
};
