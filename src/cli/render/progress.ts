import type { EventRecord } from '../../state/store.js';
import type { Io } from '../io.js';

function seconds(ms: unknown): string {
  return typeof ms === 'number' ? `${(ms / 1000).toFixed(1)}s` : '';
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((line) => by + line)
    .join('\n');
}

/**
 * Renders the engine's event stream as progress lines on stderr: one line when a step starts,
 * one when it ends (with elapsed time and reason), retries and progress in between. Plain lines,
 * so it reads the same in a narrow terminal, a CI log or with NO_COLOR.
 */
export function progressRenderer(io: Io): (event: EventRecord) => void {
  const c = io.color;
  return (event) => {
    const step = (event.data?.step as string | undefined) ?? '';
    switch (event.type) {
      case 'operation.started':
      case 'operation.resumed':
        io.err(c.bold(`${event.service}: ${event.message} (${event.operationId})`));
        break;
      case 'step.started':
        io.err(`  ${c.dim('…')} ${event.message}`);
        break;
      case 'step.progress':
        // Under the step's own line; a message of several lines (log lines) keeps its indentation.
        io.err(indent(c.dim(event.message), '    '));
        break;
      case 'step.retrying':
        io.err(`  ${c.yellow('↻')} ${step}: ${event.message}`);
        break;
      case 'step.succeeded':
        io.err(`  ${c.green('✓')} ${step} ${c.dim(seconds(event.data?.ms))}  ${event.message}`);
        break;
      case 'step.failed':
        // The reason is the operation's error, which the command prints once when it ends.
        io.err(`  ${c.red('✗')} ${step} ${c.dim(seconds(event.data?.ms))}`);
        break;
      case 'step.cancelled':
        io.err(`  ${c.yellow('■')} ${step}  ${event.message}`);
        break;
      case 'operation.succeeded':
        io.err(c.green(`${event.service}: ${event.message}`));
        break;
      case 'operation.failed':
      case 'operation.cancelled':
        io.err(c.red(`${event.service}: ${event.message}`));
        break;
      case 'rollback.automatic':
        io.err(c.yellow(`${event.service}: ${event.message}`));
        break;
      default:
        io.err(`  ${event.message}`);
    }
  };
}
