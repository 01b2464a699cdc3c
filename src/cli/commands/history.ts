import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { NotFoundError } from '../../core/errors.js';

function duration(from: string | null, to: string | null): string | null {
  return from && to ? `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)}s` : null;
}

export const historyCommand: CommandSpec = {
  name: 'history <service>',
  summary: 'revisions and operations of a service, newest first',
  async run({ args, globals, io }) {
    const service = args[0]!;
    return withEnvironment(globals, io, { mutating: false }, async ({ store, env }) => {
      const [record, revisions, operations] = await Promise.all([
        store.getService(env.name, service),
        store.listRevisions(env.name, service),
        store.listOperations(env.name, service, 50),
      ]);
      if (!record && revisions.length === 0 && operations.length === 0) {
        const names = (await store.listServices(env.name)).map((s) => s.name);
        throw new NotFoundError(`there is no service "${service}" in ${env.name}`, {
          hint: names.length
            ? `services in ${env.name}: ${names.join(', ')}`
            : `${env.name} has no services yet`,
        });
      }
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
        ),
      );
    });
  },
};
