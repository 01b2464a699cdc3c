import type { CommandSpec } from '../registry.js';
import { loadConfig, chooseEnvironment } from '../environment.js';
import { printJson } from '../output.js';
import { parsePositiveInt, parseTime } from '../parse.js';
import { renderTable } from '../render/table.js';
import { openStateStore } from '../../state/index.js';

export const auditCommand: CommandSpec = {
  name: 'audit',
  summary: 'who changed what, where, through which interface, as which identity, with which result',
  options: [
    { flags: '--since <time>', description: 'ISO time or an age like 2h (default 24h)', defaultValue: '24h' },
    { flags: '--until <time>', description: 'ISO time or an age (default now)', defaultValue: 'now' },
    { flags: '--limit <n>', description: 'at most N entries', defaultValue: '200' },
  ],
  async run({ options, globals, io }) {
    const env = chooseEnvironment(await loadConfig(globals), globals, false);
    const since = parseTime(options.since, '--since');
    const until = parseTime(options.until, '--until');
    const limit = parsePositiveInt(options.limit, '--limit');
    const store = await openStateStore(env, globals.dataDir);
    try {
      const entries = (await store.listAudit({ env: env.name, since, until })).slice(-limit);
      if (globals.json) return printJson(io, entries);
      if (entries.length === 0)
        return io.out(`no audit entries for ${env.name} between ${since} and ${until}`);
      io.out(
        renderTable(
          ['TIME', 'ACTOR', 'VIA', 'ACTION', 'SERVICE', 'IDENTITY', 'RESULT'],
          entries.map((e) => [
            e.time,
            e.actor,
            e.interface,
            e.action,
            String(e.args.service ?? ''),
            e.identity,
            e.result,
          ]),
          { width: io.width, shrink: ['IDENTITY', 'RESULT'] },
        ),
      );
    } finally {
      await store.close();
    }
  },
};
