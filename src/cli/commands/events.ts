import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { printJson } from '../output.js';
import { parsePositiveInt } from '../parse.js';
import type { EventRecord } from '../../state/store.js';
import type { Io } from '../io.js';
import { wrapText } from '../render/table.js';

/** One event; a line too wide for the terminal goes on at the next, indented, never mid-word. */
function line(io: Io, event: EventRecord): string {
  const type = event.type.endsWith('failed') ? io.color.red(event.type) : io.color.dim(event.type);
  const step = event.data?.step ? ` [${String(event.data.step)}]` : '';
  const text = `${event.time}  ${type}${step}  ${event.message}${event.operationId ? io.color.dim(`  ${event.operationId}`) : ''}`;
  return wrapText(text, io.width, 4).join('\n');
}

export const eventsCommand: CommandSpec = {
  name: 'events <service>',
  summary: 'what happened to a service, oldest first (--follow to keep watching)',
  options: [
    { flags: '--follow', description: 'keep printing new events until interrupted' },
    { flags: '--limit <n>', description: 'show at most the last N events', defaultValue: '100' },
  ],
  async run({ args, options, globals, io }) {
    const service = args[0]!;
    const limit = parsePositiveInt(options.limit, '--limit');
    return withBackend(globals, io, { mutating: false }, async (session) => {
      const shown = await session.events(service, limit);
      const print = (event: EventRecord) =>
        globals.json ? io.out(JSON.stringify(event)) : io.out(line(io, event));
      if (globals.json && !options.follow) return printJson(io, shown);
      shown.forEach(print);
      if (!options.follow) return;
      await session.followEvents(service, shown.at(-1)?.seq ?? 0, print);
    });
  },
};
