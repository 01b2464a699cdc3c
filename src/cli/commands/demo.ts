import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../core/package-root.js';
import type { CommandSpec } from '../registry.js';
import { chooseEnvironment, loadConfig, withEnvironment } from '../environment.js';
import { readSpec } from '../spec-input.js';
import { progressRenderer } from '../render/progress.js';
import { renderTable } from '../render/table.js';

const EXAMPLES = ['hello', 'shop'].map((name) => join(PACKAGE_ROOT, 'examples', name));

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'deploy the examples on the local runtime and print their URLs and status',
  async run({ globals, io }) {
    const config = await loadConfig(globals);
    const env = chooseEnvironment(config, { ...globals, env: globals.env ?? 'local' }, true);
    const specs = await Promise.all(EXAMPLES.map((dir) => readSpec(dir, env, config, io)));
    return withEnvironment(globals, io, { mutating: true, config }, async ({ engine }) => {
      const deployer = engine(progressRenderer(io));
      let failed = 0;
      for (const spec of specs) {
        const { operation } = await deployer.deploy(spec);
        if (operation.status !== 'succeeded') failed += 1;
      }
      const statuses = await deployer.status();
      io.out('');
      io.out(
        renderTable(
          ['SERVICE', 'HEALTH', 'SYNC', 'REVISION', 'REPLICAS', 'URL'],
          statuses.map((s) => [s.name, s.health, s.sync, s.revision, s.replicas, s.urls.join(' ')]),
          { width: io.width },
        ),
      );
      io.out('');
      io.out(`try:  curl ${statuses[0]?.urls[0] ?? ''}`);
      io.out(`      berth status --env ${env.name}    berth delete hello --env ${env.name}`);
      io.out(`      berth runtime ls                  (the runtime keeps serving after this command exits)`);
      return failed ? 1 : 0;
    });
  },
};
