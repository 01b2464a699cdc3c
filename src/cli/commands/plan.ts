import type { CommandSpec } from '../registry.js';
import { chooseEnvironment } from '../environment.js';
import { selectBackend, withBackend } from '../backend.js';
import { readSpec } from '../spec-input.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';

export const planCommand: CommandSpec = {
  name: 'plan [path]',
  summary: 'what a deploy would change, without changing it',
  async run({ args, globals, io }) {
    const backend = selectBackend(globals);
    const config = await backend.envs();
    const env = chooseEnvironment(config, globals, false);
    const spec = await readSpec(args[0], env, config, io);
    return withBackend(globals, io, { mutating: false, config, backend }, async (session) => {
      const changes = await session.plan(spec);
      if (globals.json) return printJson(io, { service: spec.name, env: env.name, changes });
      const pending = changes.filter((c) => c.action !== 'unchanged').length;
      // WHERE only when the provider spreads resources (AWS: which load balancer a route is on).
      const where = changes.some((c) => c.location);
      io.out(
        renderTable(
          ['KIND', 'ACTION', 'NAME', ...(where ? ['WHERE'] : []), 'ID', 'WHY'],
          changes.map((c) => [
            c.kind,
            c.action,
            c.name,
            ...(where ? [c.location ?? null] : []),
            c.providerId,
            c.reason,
          ]),
          { width: io.width, ownLine: ['WHY'], shrink: ['NAME', 'ID'] },
        ),
      );
      io.out(
        pending
          ? `${pending} change(s); apply with: berth deploy ${args[0] ?? '.'} --env ${env.name}`
          : 'nothing to change',
      );
    });
  },
};
