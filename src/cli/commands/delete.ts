import { createInterface } from 'node:readline/promises';
import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { progressRenderer } from '../render/progress.js';
import { RefusedError } from '../../core/errors.js';
import type { EnvironmentConfig } from '../../spec/types.js';
import type { Io } from '../io.js';

/**
 * In a protected environment destruction is deliberate: `--confirm <env name>`, or the name typed
 * at a prompt. `--yes` is not enough.
 */
async function confirmDestruction(
  env: EnvironmentConfig,
  confirm: unknown,
  io: Io,
  what: string,
): Promise<void> {
  if (!env.protected) return;
  if (confirm !== undefined) {
    if (confirm === env.name) return;
    throw new RefusedError(`--confirm ${String(confirm)} does not match the environment ${env.name}`, {
      hint: `to ${what} in ${env.name}, pass --confirm ${env.name}`,
    });
  }
  if (!io.isInteractive) {
    throw new RefusedError(`${env.name} is protected: to ${what} there, pass --confirm ${env.name}`, {
      code: 'confirmation_required',
    });
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const typed = (await prompt.question(`type the environment name (${env.name}) to ${what}: `)).trim();
    if (typed !== env.name) throw new RefusedError(`"${typed}" is not ${env.name}; nothing was changed`);
  } finally {
    prompt.close();
  }
}

export const deleteCommand: CommandSpec = {
  name: 'delete <service>',
  summary: 'remove a service and every resource it owns (shows them first)',
  options: [
    { flags: '--confirm <env>', description: 'the environment name, required in a protected environment' },
    { flags: '--dry-run', description: 'show what would be removed and stop' },
  ],
  async run({ args, options, globals, io }) {
    const service = args[0]!;
    return withEnvironment(globals, io, { mutating: true }, async ({ engine, env }) => {
      const runner = engine(progressRenderer(io));
      const planned = await runner.previewDelete(service);
      const listing = renderTable(
        ['KIND', 'ID', 'NAME', 'FOUND'],
        planned.map((p) => [
          p.kind,
          p.providerId,
          p.name,
          p.source === 'inventory'
            ? 'berth record only'
            : p.source === 'both'
              ? 'by tag and record'
              : 'by tag only',
        ]),
      );
      if (options.dryRun) {
        if (globals.json) return printJson(io, { service, env: env.name, remove: planned });
        io.out(planned.length ? listing : `nothing of ${service} exists in ${env.name}`);
        return;
      }
      io.err(`delete ${service} from ${env.name} will remove ${planned.length} resource(s):`);
      if (planned.length) io.err(listing);
      await confirmDestruction(env, options.confirm, io, `delete ${service}`);
      const { operation } = await runner.delete(service);
      if (globals.json)
        printJson(io, { service, env: env.name, status: operation.status, operation, removed: planned });
      else if (operation.status === 'succeeded') io.out(`${service} is deleted from ${env.name}`);
      else io.out(`${service}: delete ${operation.status}: ${operation.error}`);
      return operation.status === 'succeeded' ? 0 : 1;
    });
  },
};
