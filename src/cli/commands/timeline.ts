import type { CommandSpec } from '../registry.js';
import { loadConfig, chooseEnvironment } from '../environment.js';
import { printJson } from '../output.js';
import { parseTime } from '../parse.js';
import { buildTimeline, timelineMarkdown } from '../../engine/timeline.js';
import { openStateStore } from '../../state/index.js';
import { UserError, errorMessage } from '../../core/errors.js';
import { createProvider } from '../../providers/index.js';
import type { ProviderActivity } from '../../providers/provider.js';
import type { EnvironmentConfig } from '../../spec/types.js';
import type { Io } from '../io.js';

/**
 * The provider's own record of changes behind berth's back (the runtime's activity log, like
 * CloudTrail). A timeline is still worth printing without it, so a failure is only a note.
 */
async function providerActivity(
  env: EnvironmentConfig,
  dataDir: string,
  window: { since: string; until: string },
  io: Io,
): Promise<ProviderActivity[]> {
  try {
    const provider = await createProvider(env, { dataDir });
    try {
      return (await provider.activity?.(env.name, window)) ?? [];
    } finally {
      await provider.close();
    }
  } catch (error) {
    io.err(`note: without the provider's record of changes (${errorMessage(error)})`);
    return [];
  }
}

export const timelineCommand: CommandSpec = {
  name: 'timeline',
  summary: "an incident timeline of an environment's events and audit, as Markdown or JSON",
  options: [
    { flags: '--since <time>', description: 'ISO time or an age like 2h', defaultValue: '24h' },
    { flags: '--until <time>', description: 'ISO time or an age', defaultValue: 'now' },
    { flags: '--format <format>', description: 'md or json', defaultValue: 'md', choices: ['md', 'json'] },
  ],
  help: 'Example:\n  berth timeline --env production --since 2026-11-26T09:00:00Z --until 2026-11-26T10:00:00Z > timeline.md',
  async run({ options, globals, io }) {
    const env = chooseEnvironment(await loadConfig(globals), globals, false);
    const window = { since: parseTime(options.since, '--since'), until: parseTime(options.until, '--until') };
    if (window.since > window.until) {
      throw new UserError(`--since (${window.since}) is after --until (${window.until})`);
    }
    const store = await openStateStore(env, globals.dataDir);
    try {
      const activity = await providerActivity(env, globals.dataDir, window, io);
      const entries = await buildTimeline(store, env.name, window, activity);
      if (globals.json || options.format === 'json')
        return printJson(io, { env: env.name, ...window, entries });
      io.out(timelineMarkdown(env.name, window, entries));
    } finally {
      await store.close();
    }
  },
};
