import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { age, printJson } from '../output.js';
import { renderTable, wrapText } from '../render/table.js';
import type { ServiceStatus } from '../../engine/status.js';
import type { Io } from '../io.js';

function colorHealth(io: Io, health: string): string {
  if (health === 'Healthy' || health === 'InSync') return io.color.green(health);
  if (health === 'Progressing' || health === 'Repairing') return io.color.cyan(health);
  return io.color.red(health);
}

function printService(io: Io, status: ServiceStatus): void {
  io.out(
    `${io.color.bold(status.name)}  revision ${status.revision ?? '-'} (generation ${status.generation})`,
  );
  const health = `  health:   ${colorHealth(io, status.health)}${status.healthDetail ? `  ${status.healthDetail}` : ''}`;
  io.out(wrapText(health, io.width, 12).join('\n'));
  io.out(`  sync:     ${colorHealth(io, status.sync)}`);
  io.out(`  observed: ${age(status.observedAt)} (${status.observedAt})`);
  if (status.repairFailing) {
    const failing = status.repairFailing;
    const repair = `  repair:   ${io.color.red(`failing: ${failing.attempts} attempt(s) since ${failing.since}`)}; last: ${failing.lastError ?? '?'}`;
    io.out(wrapText(repair, io.width, 12).join('\n'));
  }
  if (status.activeOperation) {
    const op = status.activeOperation;
    io.out(`  active:   ${op.kind} ${op.id} (${op.status}${op.step ? `, step "${op.step}"` : ''})`);
  }
  for (const url of status.urls) io.out(`  url:      ${url}`);
  if (status.resources.length) {
    const rows = status.resources.map((r) => [
      r.kind,
      r.providerId,
      r.name,
      r.state === 'ok' ? io.color.green('ok') : io.color.red(r.state),
      r.drift.length
        ? r.drift
            .map((d) => `${d.field}: ${JSON.stringify(d.observed)} (wants ${JSON.stringify(d.desired)})`)
            .join(', ')
        : (r.health?.detail ?? ''),
    ]);
    io.out(
      renderTable(['KIND', 'ID', 'NAME', 'STATE', 'DETAIL'], rows, {
        width: io.width,
        indent: 2,
        ownLine: ['DETAIL'],
        shrink: ['NAME', 'ID'],
      })
        .split('\n')
        .map((line) => `  ${line}`)
        .join('\n'),
    );
  }
}

export const statusCommand: CommandSpec = {
  name: 'status [service]',
  summary: "health, sync/drift, each resource, the observation's age and any active operation",
  async run({ args, globals, io }) {
    return withBackend(globals, io, { mutating: false }, async ({ status, env }) => {
      const statuses = await status(args[0]);
      if (globals.json) return printJson(io, statuses);
      if (statuses.length === 0) {
        io.out(`no services in ${env.name}`);
        io.err(io.color.dim(`deploy one with: berth deploy examples/hello --env ${env.name}`));
      }
      statuses.forEach((status, index) => {
        if (index) io.out('');
        printService(io, status);
      });
    });
  },
};
