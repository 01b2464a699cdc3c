import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { printJson } from '../output.js';

export const whoamiCommand: CommandSpec = {
  name: 'whoami',
  summary: 'the environment and the verified identity behind it',
  async run({ globals, io }) {
    return withBackend(globals, io, { mutating: false, banner: false }, async ({ env, identity, whoami }) => {
      const result = await whoami();
      if (globals.json) return printJson(io, result);
      io.out(`environment: ${env.name}${env.protected ? ' (PROTECTED)' : ''}`);
      io.out(`provider:    ${env.provider}`);
      io.out(`identity:    ${identity.description}`);
      io.out(`declared:    ${env.identity ?? '(none: any identity is accepted)'}`);
      io.out(
        result.mode === 'api'
          ? `actor:       ${result.actor} (API token, ${result.role ?? 'no'} role)`
          : `actor:       ${result.actor} (direct mode)`,
      );
    });
  },
};
