import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { printJson } from '../output.js';
import { parseSeconds } from '../parse.js';
import { progressRenderer } from '../render/progress.js';

export const restoreCommand: CommandSpec = {
  name: 'restore <service>',
  summary: 'redeploy a deleted service exactly as it was (within the restore window)',
  options: [
    {
      flags: '--window <hours>',
      description: 'how long after a delete a restore is allowed',
      defaultValue: '24',
    },
  ],
  async run({ args, options, globals, io }) {
    const service = args[0]!;
    const windowMs = parseSeconds(Number(options.window) * 3600, '--window') * 1000;
    return withEnvironment(globals, io, { mutating: true }, async ({ engine, env }) => {
      const { operation, urls } = await engine(progressRenderer(io)).restore(service, windowMs);
      if (globals.json) printJson(io, { service, env: env.name, status: operation.status, operation, urls });
      else if (operation.status === 'succeeded') {
        io.out(`${service} is restored in ${env.name} at revision ${operation.revision}:`);
        for (const url of urls) io.out(`  ${url}`);
      } else io.out(`${service}: restore ${operation.status}: ${operation.error}`);
      return operation.status === 'succeeded' ? 0 : 1;
    });
  },
};
