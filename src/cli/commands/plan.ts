import type { CommandSpec } from '../registry.js';
import { chooseEnvironment, loadConfig, withEnvironment } from '../environment.js';
import { readSpec } from '../spec-input.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { planDeploy } from '../../engine/plan.js';

export const planCommand: CommandSpec = {
  name: 'plan [path]',
  summary: 'what a deploy would change, without changing it',
  async run({ args, globals, io }) {
    const config = await loadConfig(globals);
    const env = chooseEnvironment(config, globals, false);
    const spec = await readSpec(args[0], env, config, io);
    return withEnvironment(globals, io, { mutating: false, config }, async ({ store, provider }) => {
      const changes = await planDeploy(store, provider, env, spec);
      if (globals.json) return printJson(io, { service: spec.name, env: env.name, changes });
      const pending = changes.filter((c) => c.action !== 'unchanged').length;
      io.out(
        renderTable(
          ['KIND', 'ACTION', 'NAME', 'ID', 'WHY'],
          changes.map((c) => [c.kind, c.action, c.name, c.providerId, c.reason]),
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
