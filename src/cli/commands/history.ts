import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';

function duration(from: string | null, to: string | null): string | null {
  return from && to ? `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)}s` : null;
}

export const historyCommand: CommandSpec = {
  name: 'history <service>',
  summary: 'revisions and operations of a service, newest first',
  async run({ args, globals, io }) {
    const service = args[0]!;
    return withBackend(globals, io, { mutating: false }, async ({ history }) => {
      const { service: record, revisions, operations } = await history(service);
      if (globals.json) return printJson(io, { service: record, revisions, operations });
      io.out('REVISIONS');
      io.out(
        renderTable(
          ['REV', 'CREATED', 'ORIGIN', 'REPLICAS', 'CURRENT'],
          revisions.map((r) => [
            r.number,
            r.createdAt,
            r.origin.kind === 'rollback' ? `rollback of ${r.origin.from}` : 'deploy',
            r.spec.replicas,
            r.number === record?.currentRevision ? '*' : '',
          ]),
          { width: io.width, ownLine: ['ERROR'] },
        ),
      );
      io.out('\nOPERATIONS');
      io.out(
        renderTable(
          ['ID', 'KIND', 'REV', 'STATUS', 'STARTED', 'TOOK', 'ERROR'],
          operations.map((o) => [
            o.id,
            o.kind,
            o.revision,
            o.status,
            o.startedAt,
            duration(o.startedAt, o.finishedAt),
            o.error,
          ]),
          { width: io.width, ownLine: ['ERROR'] },
        ),
      );
    });
  },
};
