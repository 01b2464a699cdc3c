import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { printJson } from '../output.js';
import { parsePositiveInt } from '../parse.js';
import { progressRenderer } from '../render/progress.js';
import { askConfirmation } from '../confirm.js';

export const rollbackCommand: CommandSpec = {
  name: 'rollback <service>',
  summary: 'deploy an earlier revision again, as a new revision (default: the one before the current)',
  options: [
    { flags: '--to <revision>', description: 'the revision number to return to' },
    { flags: '--confirm <env>', description: 'the environment name, required in a protected environment' },
  ],
  async run({ args, options, globals, io }) {
    const service = args[0]!;
    const to = options.to === undefined ? undefined : parsePositiveInt(options.to, '--to');
    return withBackend(globals, io, { mutating: true }, async ({ rollback, env }) => {
      const confirm = await askConfirmation(env, options.confirm, io, `roll back ${service}`);
      const { operation, urls } = await rollback(
        service,
        to,
        { noRollback: true, confirm },
        progressRenderer(io),
      );
      if (globals.json) printJson(io, { service, env: env.name, status: operation.status, operation, urls });
      else if (operation.status === 'succeeded')
        io.out(`${service} revision ${operation.revision} is live in ${env.name}`);
      else io.out(`${service}: rollback ${operation.status}: ${operation.error}`);
      return operation.status === 'succeeded' ? 0 : 1;
    });
  },
};
