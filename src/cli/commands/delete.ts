import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { progressRenderer } from '../render/progress.js';
import { askConfirmation, askYesNo } from '../confirm.js';

export const deleteCommand: CommandSpec = {
  name: 'delete <service>',
  summary: 'remove a service and every resource it owns (shows them first)',
  options: [
    { flags: '--confirm <env>', description: 'the environment name, required in a protected environment' },
    { flags: '--dry-run', description: 'show what would be removed and stop' },
    { flags: '-y, --yes', description: 'do not ask y/N (needed without a terminal, e.g. in scripts)' },
  ],
  help: [
    'Outside a protected environment, delete asks y/N at a terminal; scripts pass --yes (without a',
    'terminal and without --yes, nothing is deleted and the exit code is 3). A protected environment',
    'asks for its name instead, or takes --confirm ENV.',
  ].join('\n'),
  async run({ args, options, globals, io }) {
    const service = args[0]!;
    return withBackend(globals, io, { mutating: true }, async (session) => {
      const { env } = session;
      const planned = await session.previewDelete(service);
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
        { width: io.width, shrink: ['NAME', 'ID'] },
      );
      if (options.dryRun) {
        if (globals.json) return printJson(io, { service, env: env.name, remove: planned });
        io.out(planned.length ? listing : `nothing of ${service} exists in ${env.name}`);
        return;
      }
      io.err(`delete ${service} from ${env.name} will remove ${planned.length} resource(s):`);
      if (planned.length) io.err(listing);
      // Nothing to remove needs no question: the engine says whether berth knows the service.
      await askYesNo(env, io, {
        yes: Boolean(options.yes) || planned.length === 0,
        question: `Delete ${service} from ${env.name}?`,
        refusal: `delete ${service} from ${env.name}`,
      });
      const confirm = await askConfirmation(env, options.confirm, io, `delete ${service}`);
      const { operation } = await session.delete(service, { confirm }, progressRenderer(io));
      if (globals.json)
        printJson(io, { service, env: env.name, status: operation.status, operation, removed: planned });
      else if (operation.status === 'succeeded') io.out(`${service} is deleted from ${env.name}`);
      else io.out(`${service}: delete ${operation.status}: ${operation.error}`);
      return operation.status === 'succeeded' ? 0 : 1;
    });
  },
};
