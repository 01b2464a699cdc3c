import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { parsePositiveInt, parseTime } from '../parse.js';
import { UserError } from '../../core/errors.js';
import { MAX_LOG_LINES } from '../../engine/logs.js';
import type { LogLine } from '../../providers/provider.js';

/** How often --follow asks again (AWS: FilterLogEvents spends the account's 5/s budget). */
const FOLLOW_EVERY_MS = 2_000;

/**
 * `berth logs SERVICE --env E`: what the service's replicas printed. On AWS the tasks' CloudWatch
 * Logs streams (every generation's), from --since on; locally the runtime's replica files, whose
 * lines carry no times (the last --lines of the replicas). Through the API when the CLI talks to
 * one (a viewer's token sees the service's `env:` values hidden), else directly.
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
    const since = parseTime(options.since, '--since');
    const limit = parsePositiveInt(options.lines, '--lines');
    if (limit > MAX_LOG_LINES) {
      throw new UserError(`--lines must be at most ${MAX_LOG_LINES}; got ${limit}`, {
        hint: 'narrow the window with --since instead',
      });
    }
    return withBackend(globals, io, { mutating: false, banner: false }, async (session) => {
      const print = (line: LogLine) => {
        if (globals.json) return io.out(JSON.stringify(line));
        const time = line.time === null ? '' : `${new Date(line.time).toISOString()}  `;
        io.out(`${io.color.dim(`${time}${line.source}`)}  ${line.message}`);
      };
      const first = await session.logs(service, { since, limit });
      first.lines.forEach(print);
      if (first.lines.length === 0) io.err(`no log lines from ${service} since ${since}`);
      if (!first.timed && options.since !== '10m') {
        io.err('the local runtime keeps no times with its log lines: --since does not apply there');
      }
      if (!options.follow) return;
      // Follow: ask again every few seconds; print what was not printed yet.
      const seen = new Set(first.lines.map(key));
      let from = Math.max(Date.parse(since), ...first.lines.map((line) => line.time ?? 0));
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
        const { lines } = await session.logs(service, { since: new Date(from).toISOString(), limit });
        for (const line of lines) {
          if (seen.has(key(line))) continue;
          seen.add(key(line));
          print(line);
        }
        from = Math.max(from, ...lines.map((line) => line.time ?? 0));
      }
    });
  },
};

/** Lines without times repeat across reads: a line is new when its place and text are new. */
function key(line: LogLine): string {
  return `${line.time ?? ''}|${line.source}|${line.message}`;
}
