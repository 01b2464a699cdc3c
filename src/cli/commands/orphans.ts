import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { askConfirmation } from '../confirm.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { UserError } from '../../core/errors.js';
import { adoptOrphans, deleteOrphans, findOrphans, type Orphan } from '../../engine/orphans.js';

const ORPHAN_REASONS: Record<Orphan['reason'], string> = {
  'no-record': 'berth has no record of that service',
  'not-desired': 'its service does not want it',
  'never-live': 'its service was never live',
};

function table(orphans: Orphan[], width: number): string {
  return renderTable(
    ['KIND', 'ID', 'NAME', 'TAGGED FOR', 'WHY'],
    orphans.map((orphan) => [
      orphan.kind,
      orphan.providerId,
      orphan.name,
      orphan.service || '-',
      ORPHAN_REASONS[orphan.reason],
    ]),
    { width, ownLine: ['WHY'], shrink: ['NAME', 'ID'] },
  );
}

export const orphansCommand: CommandSpec = {
  name: 'orphans',
  summary: "resources tagged as berth's that no service desires (--delete, --adopt SERVICE)",
  help: 'Only resources tagged berth:managed-by=berth in the environment are considered; untagged\nresources are never touched. Services with an active operation are skipped.',
  options: [
    { flags: '--delete', description: 'remove the orphans listed' },
    {
      flags: '--adopt <service>',
      description: 'take the orphans listed into SERVICE (re-tag and record them)',
    },
    { flags: '--id <ids...>', description: 'only these resource ids' },
    { flags: '--service <name>', description: 'only orphans tagged for this service' },
    { flags: '--confirm <env>', description: 'the environment name, required to delete in a protected one' },
  ],
  async run({ options, globals, io }) {
    if (options.delete && options.adopt) {
      throw new UserError('choose one of --delete and --adopt', {
        hint: 'run the command twice with different --id',
      });
    }
    const mutating = Boolean(options.delete || options.adopt);
    return withEnvironment(globals, io, { mutating }, async ({ store, provider, env }) => {
      const ids = options.id as string[] | undefined;
      const only = options.service as string | undefined;
      const orphans = (await findOrphans({ store, provider, env })).filter(
        (orphan) =>
          (!ids || ids.includes(orphan.providerId)) && (only === undefined || orphan.service === only),
      );
      if (ids) {
        const unknown = ids.filter((id) => !orphans.some((orphan) => orphan.providerId === id));
        if (unknown.length) {
          throw new UserError(`not orphans in ${env.name}: ${unknown.join(', ')}`, {
            hint: `list them with: berth orphans --env ${env.name}`,
          });
        }
      }
      if (!mutating) {
        if (globals.json) return printJson(io, { env: env.name, orphans });
        if (orphans.length === 0) return io.out(`no orphans in ${env.name}`);
        io.out(table(orphans, io.width));
        io.err(
          io.color.dim(
            `remove them: berth orphans --env ${env.name} --delete; or take them into a service: --adopt SERVICE`,
          ),
        );
        return;
      }
      if (orphans.length === 0) {
        if (globals.json) return printJson(io, { env: env.name, orphans: [], done: [] });
        return io.out(`no orphans in ${env.name}: nothing to do`);
      }
      if (options.adopt) {
        const service = String(options.adopt);
        io.err(`adopting ${orphans.length} resource(s) into ${service}:`);
        io.err(table(orphans, io.width));
        const adopted = await adoptOrphans({ store, provider, env }, orphans, service);
        if (globals.json) return printJson(io, { env: env.name, adopted });
        io.out(`adopted ${adopted.length} resource(s) into ${service}`);
        io.err(
          io.color.dim(
            `the reconciler keeps what ${service} wants and repairs the rest; see berth drift --env ${env.name}`,
          ),
        );
        return;
      }
      io.err(`will remove ${orphans.length} orphaned resource(s) from ${env.name}:`);
      io.err(table(orphans, io.width));
      const confirm = await askConfirmation(env, options.confirm, io, `remove ${orphans.length} orphan(s)`);
      const done = await deleteOrphans({ store, provider, env }, orphans, confirm);
      if (globals.json) return printJson(io, { env: env.name, done });
      for (const { orphan, outcome } of done) {
        io.out(
          `removed ${orphan.kind} ${orphan.providerId} (${orphan.name})${outcome === 'already-gone' ? ': already gone' : ''}`,
        );
      }
    });
  },
};
