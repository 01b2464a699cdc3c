import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { printJson } from '../output.js';
import { userInfo } from 'node:os';

export const whoamiCommand: CommandSpec = {
  name: 'whoami',
  summary: 'the environment and the verified identity behind it',
  async run({ globals, io }) {
    return withEnvironment(globals, io, { mutating: false, banner: false }, async ({ env, identity }) => {
      const result = {
        env: env.name,
        provider: env.provider,
        protected: env.protected,
        identity: identity.id,
        description: identity.description,
        declaredIdentity: env.identity ?? null,
        actor: userInfo().username,
        mode: 'direct',
      };
      if (globals.json) return printJson(io, result);
      io.out(`environment: ${env.name}${env.protected ? ' (PROTECTED)' : ''}`);
      io.out(`provider:    ${env.provider}`);
      io.out(`identity:    ${identity.description}`);
      io.out(`declared:    ${env.identity ?? '(none: any identity is accepted)'}`);
      io.out(`actor:       ${result.actor} (direct mode)`);
    });
  },
};
