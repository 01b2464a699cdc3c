/**
 * Why a service's latest operation failed, said once: the failing step, the reason, and the log
 * lines (a crashed replica's, reported while the deploy waited, and those the failure quotes), each
 * as a line of its own. The steps and events elsewhere on the page refer to it without repeating it.
 */
import { age } from './format';
import type { BerthEvent, LastFailure } from './types';

interface LogBlock {
  title: string;
  lines: string[];
}

/** "reason\nlast log lines:\n  a\n  b" -> the reason, and the quoted lines under their title. */
export function splitFailure(error: string): { reason: string; blocks: LogBlock[] } {
  const [reason = '', ...rest] = error.split('\n');
  const blocks: LogBlock[] = [];
  for (const line of rest) {
    if (!/^\s/.test(line)) {
      blocks.push({ title: line.replace(/:$/, ''), lines: [] });
      continue;
    }
    if (!blocks.length) blocks.push({ title: '', lines: [] });
    blocks[blocks.length - 1]!.lines.push(line.replace(/^ {2}/, ''));
  }
  return { reason, blocks };
}

/** A message's first line: events and steps show only that; the failure box shows the rest. */
export function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? '';
}

/** How the engine reports a replica that crashed while a deploy waited (see engine/health-wait.ts). */
const CRASH_REPORT = /^replica \d+ (exited with|failed to start)/;

export function isCrashReport(message: string): boolean {
  return CRASH_REPORT.test(message);
}

/** The log blocks the failure box shows: crashes reported while the step waited, then the failure's own. */
function logBlocks(failure: LastFailure, events: BerthEvent[]): LogBlock[] {
  // Crashes reported while the step waited: their log lines are shown here, not in the events.
  const crashes = events
    .filter(
      (event) =>
        event.operationId === failure.operationId &&
        event.type === 'step.progress' &&
        CRASH_REPORT.test(event.message),
    )
    .map((event) => splitFailure(event.message))
    .map(({ reason: title, blocks: inner }) => ({
      title,
      lines: inner.flatMap((block) => (block.title ? [block.title, ...block.lines] : block.lines)),
    }));
  return [...crashes, ...splitFailure(failure.error).blocks];
}

/** Every log line the failure box shows ("[replica 0] listening"): the recent logs leave them out. */
export function failureLogLines(failure: LastFailure | null, events: BerthEvent[]): Set<string> {
  if (!failure) return new Set();
  return new Set(logBlocks(failure, events).flatMap((block) => block.lines));
}

export function Failure(props: { failure: LastFailure; events: BerthEvent[]; now: number }) {
  const { failure, events, now } = props;
  const { reason } = splitFailure(failure.error);
  const blocks = logBlocks(failure, events);
  return (
    <div class="failure" data-testid="failure">
      <p class="headline">
        <span class="icon">✗</span> {failure.kind}
        {failure.revision !== null ? ` of revision ${failure.revision}` : ''} {failure.status}
        {failure.step ? (
          <>
            {' '}
            at step <strong data-testid="failure-step">{failure.step}</strong>
          </>
        ) : null}
        {failure.finishedAt ? <span class="dim"> · {age(failure.finishedAt, now)} ago</span> : null}
      </p>
      <p class="reason" data-testid="failure-reason">
        {reason}
      </p>
      {blocks.map((block, index) => (
        <div class="logblock" key={index}>
          {block.title && <p class="dim">{block.title}</p>}
          {block.lines.length > 0 && (
            <pre class="log">
              {block.lines.map((line, at) => (
                <span class="line" data-testid="log-line" key={at}>
                  {line}
                </span>
              ))}
            </pre>
          )}
        </div>
      ))}
    </div>
  );
}
