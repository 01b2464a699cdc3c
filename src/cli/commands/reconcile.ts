import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { parseDuration } from '../../spec/index.js';
import { UserError, errorMessage } from '../../core/errors.js';
import { sleep } from '../../core/clock.js';
import { startReconciler } from '../../reconciler/index.js';
import type { EventRecord } from '../../state/store.js';
import type { Io } from '../io.js';

/** The events worth a line while reconciling: drift, repairs and their operations' outcome. */
function shown(event: EventRecord): boolean {
  return (
    event.type.startsWith('drift.') ||
    event.type.startsWith('reconciler.') ||
    event.type.startsWith('operation.') ||
    event.type === 'step.failed' ||
    event.type === 'refused'
  );
}

function line(io: Io, event: EventRecord): string {
  const type =
    event.type.endsWith('failed') || event.type === 'drift.seen'
      ? io.color.red(event.type)
      : event.type === 'drift.repaired'
        ? io.color.green(event.type)
        : io.color.dim(event.type);
  return `${event.time}  ${event.service ?? '-'}  ${type}  ${event.message}`;
}

export const reconcileCommand: CommandSpec = {
  name: 'reconcile',
  summary: 'watch an environment in the foreground, repairing (or reporting) drift until Ctrl-C',
  help: 'Runs the reconciler without a control plane: it notices missing, changed and orphaned\nresources and repairs them (policy heal) or only reports them (policy report). Only one\nreconciler acts on an environment at a time; another one stands by.',
  options: [
    {
      flags: '--resync <duration>',
      description: 'how often to look at everything (default 5s locally, 30s on AWS)',
    },
  ],
  async run({ options, globals, io }) {
    const resyncMs = options.resync === undefined ? undefined : parseDuration(options.resync);
    if (options.resync !== undefined && !resyncMs) {
      throw new UserError(`--resync must be a duration like 5s or 500ms, not "${String(options.resync)}"`);
    }
    return withEnvironment(globals, io, { mutating: true }, async ({ store, provider, env }) => {
      const reconciler = startReconciler({
        store,
        provider,
        env,
        resyncMs,
        onEvent: (event) => {
          if (!shown(event)) return;
          io.out(globals.json ? JSON.stringify(event) : line(io, event));
        },
        onError: (key, error) => io.err(io.color.dim(`reconcile ${key}: ${errorMessage(error)} (retrying)`)),
      });
      const { resyncMs: every, changeFeed } = reconciler.status();
      io.err(
        `reconciling ${env.name}: resync every ${every / 1000}s${changeFeed ? ', following the runtime change feed' : ''}; Ctrl-C to stop`,
      );
      const standby = setTimeout(() => {
        if (!reconciler.status().leader) {
          io.err(
            io.color.dim(
              `standing by: another reconciler holds ${env.name}'s lease; taking over when it is free`,
            ),
          );
        }
      }, 2_000);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      clearTimeout(standby);
      io.err('stopping…');
      // Stop within a second of Ctrl-C. A repair still running keeps its operation's lease, and
      // the next reconciler resumes it, as after a crash.
      const stopped = await Promise.race([reconciler.stop().then(() => true), sleep(900).then(() => false)]);
      if (!stopped) io.err(io.color.dim('a repair was still running: the next reconciler resumes it'));
      // Nothing of this command needs the event loop any more: leave even if a socket or a timer
      // of an unfinished repair would hold it open.
      setTimeout(() => process.exit(), 100).unref();
    });
  },
};
