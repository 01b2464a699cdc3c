import { sleep } from '../core/clock.js';
import type { ComputeReadiness, Provider, ReplicaReadiness } from '../providers/provider.js';
import type { StepContext } from './steps.js';

/** A changed picture of the replicas is shown at most this often (each update is a stored event). */
const CHANGE_EVERY_MS = 1000;
/** With nothing changing, the picture is shown again this often, so the elapsed time moves on. */
const HEARTBEAT_MS = 5000;
/** Log lines shown per replica when explaining a failure. */
const LOG_LINES = 10;

/** What one replica is doing, in a few words: "starting: GET /ready → 404". */
function replicaPhrase(replica: ReplicaReadiness): string {
  let phrase = replica.state;
  if (replica.state === 'crashed' && replica.lastExit) phrase += ` (${exitPhrase(replica.lastExit)})`;
  else if (replica.lastCheck && replica.state !== 'healthy') phrase += `: ${replica.lastCheck}`;
  if (replica.restarts > 0) {
    phrase += `, restarted ${replica.restarts}×`;
    if (replica.state !== 'crashed' && replica.lastExit) phrase += ` (last ${exitPhrase(replica.lastExit)})`;
  }
  return phrase;
}

/** "code 1" -> "exit code 1"; a spawn failure keeps its own words. */
function exitPhrase(lastExit: string): string {
  return /^(code|signal) /.test(lastExit) ? `exit ${lastExit}` : lastExit;
}

/** Replicas in the same state named together: ["replicas 0,1 starting: GET /ready → 404", ...]. */
function replicaGroups(replicas: ReplicaReadiness[]): string[] {
  const groups = new Map<string, number[]>();
  for (const replica of [...replicas].sort((a, b) => a.index - b.index)) {
    const phrase = replicaPhrase(replica);
    groups.set(phrase, [...(groups.get(phrase) ?? []), replica.index]);
  }
  return [...groups].map(
    ([phrase, indexes]) => `${indexes.length > 1 ? 'replicas' : 'replica'} ${indexes.join(',')} ${phrase}`,
  );
}

/**
 * Every replica's state and last check, replicas in the same state named together:
 * "replicas 0,1 starting: GET /ready → 404; replica 2 crashed (exit code 1)".
 */
export function describeReplicas(replicas: ReplicaReadiness[]): string {
  return replicaGroups(replicas).join('; ');
}

/** The replicas' picture without the clock: a new one is worth showing at once. */
function picture(readiness: ComputeReadiness): string {
  const who = readiness.replicas?.length ? describeReplicas(readiness.replicas) : readiness.detail;
  return `${readiness.healthy}/${readiness.desired} healthy · ${who}`;
}

const wholeSeconds = (ms: number) => `${Math.floor(ms / 1000)}s`;

/**
 * One update of "wait until healthy", why first and the clock last, so that a narrow terminal
 * that cuts or wraps the line still shows why: "replicas 0,1 starting: GET /ready → 404 · 0/2
 * healthy, 3s of 60s".
 */
export function waitUpdate(readiness: ComputeReadiness, elapsedMs: number, deadlineMs: number): string {
  const why = readiness.replicas?.length ? describeReplicas(readiness.replicas) : readiness.detail;
  return `${why} · ${readiness.healthy}/${readiness.desired} healthy, ${wholeSeconds(elapsedMs)} of ${wholeSeconds(deadlineMs)}`;
}

/** "replica 0 exited with code 1" / "replica 0 failed to start: command not found ...". */
function crashHeadline(replica: ReplicaReadiness): string {
  const exit = replica.lastExit ?? 'unknown';
  return /^(code|signal) /.test(exit)
    ? `replica ${replica.index} exited with ${exit}`
    : `replica ${replica.index} failed to start: ${exit}`;
}

function indented(lines: string[]): string {
  return lines.map((line) => `  ${line}`).join('\n');
}

/** The log lines of one replica, without their "[replica N] " prefix. */
function linesOf(logs: string[], index: number): string[] {
  const prefix = `[replica ${index}] `;
  return logs.filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
}

/**
 * Waits until a compute's replicas are healthy, saying why they are not while it waits: every
 * update names each replica's state and its last check's result, with the elapsed time and the
 * deadline. A replica that crashes is reported once, with its exit and its last log lines; the
 * failure (crash loop or deadline) then carries only the log lines not already shown.
 */
export async function waitUntilHealthy(
  step: StepContext,
  provider: Provider,
  computeId: string,
  deadlineMs: number,
): Promise<string> {
  const startedAt = Date.now();
  const crashesShown = new Set<number>();
  let shown = '';
  let shownAt = 0;
  for (;;) {
    const readiness = await provider.readiness(computeId);
    if (readiness.ready) return readiness.detail;
    const elapsed = Date.now() - startedAt;
    const timedOut = elapsed >= deadlineMs;
    for (const replica of readiness.replicas ?? []) {
      if (crashesShown.has(replica.index) || (replica.restarts === 0 && replica.state !== 'crashed'))
        continue;
      if (!replica.lastExit) continue;
      crashesShown.add(replica.index);
      const lines = linesOf(await provider.recentLogs(computeId, LOG_LINES).catch(() => []), replica.index);
      await step.progress(
        lines.length
          ? `${crashHeadline(replica)}; its last log lines:\n${indented(lines)}`
          : `${crashHeadline(replica)}; it printed nothing`,
      );
    }
    if (readiness.failed || timedOut) {
      const replicas = readiness.replicas?.length ? describeReplicas(readiness.replicas) : null;
      const why = timedOut
        ? `not healthy after ${wholeSeconds(deadlineMs)}: ${picture(readiness)}`
        : replicas
          ? `replicas keep exiting: ${replicas}`
          : readiness.detail;
      const logs = await provider.recentLogs(computeId, LOG_LINES).catch(() => []);
      const unseen = logs.filter((line) => {
        const index = Number(/^\[replica (\d+)\] /.exec(line)?.[1] ?? -1);
        return !crashesShown.has(index);
      });
      const seenNote = crashesShown.size ? " (the crashed replicas' last log lines are shown above)" : '';
      throw new Error(
        unseen.length ? `${why}${seenNote}\nlast log lines:\n${indented(unseen)}` : `${why}${seenNote}`,
      );
    }
    const now = Date.now();
    const current = picture(readiness);
    const changed = current !== shown && now - shownAt >= CHANGE_EVERY_MS;
    if (shownAt === 0 || changed || now - shownAt >= HEARTBEAT_MS) {
      shown = current;
      shownAt = now;
      await step.progress(waitUpdate(readiness, elapsed, deadlineMs));
    }
    await sleep(provider.readinessPollMs, step.signal);
  }
}
