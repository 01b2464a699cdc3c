import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { printJson } from '../output.js';

export const cancelCommand: CommandSpec = {
  name: 'cancel <service>',
  summary:
    "stop a service's active operation (the deploying command then returns to the last healthy revision)",
  async run({ args, globals, io }) {
    const service = args[0]!;
    return withBackend(globals, io, { mutating: true }, async ({ cancel, env }) => {
      io.err(`asking ${service}'s active operation in ${env.name} to stop...`);
      const operation = await cancel(service);
      if (globals.json) return printJson(io, operation);
      io.out(
        `${operation.kind} ${operation.id}: ${operation.status}${operation.error ? ` (${operation.error})` : ''}`,
      );
    });
  },
};
