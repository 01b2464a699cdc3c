import type { EventRecord } from '../../state/store.js';
import type { Io } from '../io.js';
import { truncate, wrapText } from './table.js';

function seconds(ms: unknown): string {
  return typeof ms === 'number' ? `${(ms / 1000).toFixed(1)}s` : '';
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((line) => by + line)
    .join('\n');
}

/** How the engine reports a replica that crashed while a deploy waited (engine/health-wait.ts): said once. */
const CRASH_REPORT = /^replica \d+ (exited with|failed to start)/;

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const REDRAW_MS = 100;

/** Where live progress is drawn: a terminal that understands cursor movement. */
export interface ProgressTerminal {
  write(text: string): void;
  columns(): number;
}

/**
 * Renders the engine's event stream as progress on stderr; the same stream feeds the API's live
 * events and the dashboard.
 * - In a terminal, the running step's line is redrawn in place with a spinner and its elapsed
 *   time, and its latest update (e.g. which replicas are healthy) under it; when the
 *   step ends, the line is replaced by its result, so each step ends as exactly one line.
 * - Elsewhere (a pipe, a CI log), plain appended lines: each step once, when it ends, and its
 *   updates as they come, each naming its step.
 * Reports of several lines (a crashed replica's last log lines) are printed once, either way.
 */
export function progressRenderer(io: Io, terminal?: ProgressTerminal): (event: EventRecord) => void {
  const live =
    terminal ??
    (io.stderrIsTTY
      ? {
          write: (text: string) => void process.stderr.write(text),
          columns: () => process.stderr.columns || 80,
        }
      : undefined);
  return live ? liveRenderer(io, live) : plainRenderer(io);
}

/** The line each finished step leaves, and the lines of the operation around its steps. */
function permanentLine(io: Io, event: EventRecord): string | null {
  const c = io.color;
  const step = (event.data?.step as string | undefined) ?? '';
  switch (event.type) {
    case 'operation.started':
    case 'operation.resumed':
      return c.bold(`${event.service}: ${event.message} (${event.operationId})`);
    case 'step.retrying':
      return `  ${c.yellow('↻')} ${step}: ${event.message}`;
    case 'step.succeeded':
      return `  ${c.green('✓')} ${step} ${c.dim(seconds(event.data?.ms))}  ${event.message}`;
    case 'step.failed':
      // The reason is the operation's error, which the command prints once when it ends.
      return `  ${c.red('✗')} ${step} ${c.dim(seconds(event.data?.ms))}`;
    case 'step.cancelled':
      return `  ${c.yellow('■')} ${step}  ${event.message}`;
    case 'operation.succeeded':
      return c.green(`${event.service}: ${event.message}`);
    case 'operation.failed':
    case 'operation.cancelled':
      return c.red(`${event.service}: ${event.message}`);
    case 'rollback.automatic':
      return c.yellow(`${event.service}: ${event.message}`);
    default:
      return `  ${event.message}`;
  }
}

/** A step's line wrapped at spaces to the width, continued under its text. */
function fit(text: string, width: number): string {
  return text
    .split('\n')
    .map((line) => wrapText(line, width, 6).join('\n'))
    .join('\n');
}

function plainRenderer(io: Io): (event: EventRecord) => void {
  return (event) => {
    const step = (event.data?.step as string | undefined) ?? '';
    if (event.type === 'step.started') return; // printed once, when it ends
    if (event.type === 'step.progress') {
      const [first, ...rest] = event.message.split('\n');
      io.err(
        fit(
          `    ${io.color.dim(`${step}: ${first}`)}${rest.length ? `\n${indent(rest.join('\n'), '    ')}` : ''}`,
          io.errWidth,
        ),
      );
      return;
    }
    const line = permanentLine(io, event);
    if (line !== null) io.err(fit(line, io.errWidth));
  };
}

function liveRenderer(io: Io, terminal: ProgressTerminal): (event: EventRecord) => void {
  let active: { step: string; message: string; startedAt: number; update: string } | null = null;
  let drawn = 0; // lines of the live block on screen, below the cursor's line start
  let frame = 0;
  let timer: NodeJS.Timeout | null = null;

  const clear = () => {
    // Back to the first line of the live block, then erase to the end of the screen.
    if (drawn > 0) terminal.write(`\r\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    if (!active) return;
    const width = terminal.columns();
    const elapsed = ((Date.now() - active.startedAt) / 1000).toFixed(1);
    const lines = [
      truncate(
        `  ${io.color.cyan(SPINNER[frame++ % SPINNER.length]!)} ${active.message}  ${io.color.dim(`${elapsed}s`)}`,
        width - 1,
      ),
    ];
    for (const update of active.update ? active.update.split('\n') : []) {
      lines.push(truncate(`    ${io.color.dim(update)}`, width - 1));
    }
    terminal.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const redraw = () => {
    clear();
    draw();
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const print = (text: string) => {
    clear();
    terminal.write(`${fit(text, terminal.columns())}\n`);
    draw();
  };

  return (event) => {
    const step = (event.data?.step as string | undefined) ?? '';
    switch (event.type) {
      case 'step.started':
        clear();
        active = {
          step,
          message: event.message,
          startedAt: Date.parse(event.time) || Date.now(),
          update: '',
        };
        draw();
        if (!timer) {
          timer = setInterval(redraw, REDRAW_MS);
          timer.unref();
        }
        return;
      case 'step.progress':
        // A crash report stays on screen; a wait update replaces the one before it.
        if (CRASH_REPORT.test(event.message) || !active) print(indent(io.color.dim(event.message), '    '));
        else {
          active.update = event.message;
          redraw();
        }
        return;
      case 'step.succeeded':
      case 'step.failed':
      case 'step.cancelled':
        active = null;
        stop();
        print(permanentLine(io, event)!);
        return;
      case 'operation.succeeded':
      case 'operation.failed':
      case 'operation.cancelled':
        active = null;
        stop();
        print(permanentLine(io, event)!);
        return;
      default: {
        const line = permanentLine(io, event);
        if (line !== null) print(line);
      }
    }
  };
}
