import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { parsePositiveInt, parseTime } from '../parse.js';
import { NotFoundError, UserError } from '../../core/errors.js';
import type { LogLine } from '../../providers/provider.js';

/** How often --follow asks again (AWS: FilterLogEvents spends the account's 5/s budget). */
const FOLLOW_EVERY_MS = 2_000;

/**
 * `berth logs SERVICE --env E`: what the service's replicas printed. On AWS the tasks' CloudWatch
 * Logs streams (every generation's), from --since on; locally the runtime's replica files, whose
 * lines carry no times (the last --lines of each replica).
 */
export const logsCommand: CommandSpec = {
  name: 'logs <service>',
  summary: "what a service's replicas printed (--since 10m, --follow to keep watching)",
  options: [
    {
      flags: '--since <time>',
      description: 'from this age (30s, 10m, 2h, 1d) or ISO time',
      defaultValue: '10m',
    },
    { flags: '--lines <n>', description: 'show at most the last N lines', defaultValue: '200' },
    { flags: '--follow', description: 'keep printing new lines until interrupted' },
  ],
  async run({ args, options, globals, io }) {
    const service = args[0]!;
    const startTime = Date.parse(parseTime(options.since, '--since'));
    const limit = parsePositiveInt(options.lines, '--lines');
    return withEnvironment(
      globals,
      io,
      { mutating: false, banner: false },
      async ({ store, provider, env }) => {
        if (!provider.logs) {
          throw new UserError(`the ${provider.name} provider keeps no logs berth can read`);
        }
        if (!(await store.getService(env.name, service))) {
          throw new NotFoundError(`${service} is not deployed in ${env.name}`, {
            hint: `list the services with: berth ls --env ${env.name}`,
          });
        }
        const computeOf = async () =>
          (await store.listResources(env.name, service)).find((r) => r.kind === 'compute')?.providerId ??
          null;
        const print = (line: LogLine) => {
          if (globals.json) return io.out(JSON.stringify(line));
          const time = line.time === null ? '' : `${new Date(line.time).toISOString()}  `;
          io.out(`${io.color.dim(`${time}${line.source}`)}  ${line.message}`);
        };
        const read = async (from: number) =>
          provider.logs!({ service, computeId: await computeOf(), startTime: from, limit });
        let shown = await read(startTime);
        shown.forEach(print);
        if (shown.length === 0)
          io.err(`no log lines from ${service} since ${new Date(startTime).toISOString()}`);
        if (provider.name === 'local' && options.since !== '10m') {
          io.err('the local runtime keeps no times with its log lines: --since does not apply there');
        }
        if (!options.follow) return;
        // Follow: ask again every few seconds; print what was not printed yet.
        const seen = new Set(shown.map(key));
        let from = Math.max(startTime, ...shown.map((line) => line.time ?? 0));
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
          const lines = await read(from);
          for (const line of lines) {
            if (seen.has(key(line))) continue;
            seen.add(key(line));
            print(line);
          }
          from = Math.max(from, ...lines.map((line) => line.time ?? 0));
          shown = lines;
        }
      },
    );
  },
};

/** Lines without times repeat across reads: a line is new when its place and text are new. */
function key(line: LogLine): string {
  return `${line.time ?? ''}|${line.source}|${line.message}`;
}
