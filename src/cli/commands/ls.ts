import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';

export const lsCommand: CommandSpec = {
  name: 'ls [filter]',
  summary: 'services in an environment (FILTER: a part of the name)',
  async run({ args, globals, io }) {
    return withBackend(globals, io, { mutating: false }, async ({ status, env }) => {
      const filter = args[0]?.toLowerCase();
      const statuses = (await status()).filter((s) => !filter || s.name.includes(filter));
      if (globals.json) {
        return printJson(
          io,
          statuses.map(({ resources: _resources, ...summary }) => summary),
        );
      }
      if (statuses.length === 0) {
        io.out(filter ? `no services in ${env.name} match "${filter}"` : `no services in ${env.name}`);
        return;
      }
      io.out(
        renderTable(
          ['SERVICE', 'HEALTH', 'SYNC', 'REVISION', 'REPLICAS', 'OPERATION', 'URL'],
          statuses.map((s) => [
            s.name,
            s.health,
            s.sync,
            s.revision,
            s.replicas,
            s.activeOperation
              ? `${s.activeOperation.kind} (${s.activeOperation.step ?? s.activeOperation.status})`
              : null,
            s.urls[0] ?? null,
          ]),
          { width: io.width, ownLine: ['URL'], shrink: ['OPERATION'] },
        ),
      );
    });
  },
};
