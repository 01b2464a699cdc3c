/**
 * A service's recent log lines, as `berth logs` shows them (AWS: CloudWatch Logs, with times; the
 * local runtime: each replica's last lines). Each line once, as a line of its own: lines the
 * failure box already quotes are left out here and counted instead. Read again when the service's
 * events move and every REFRESH_MS (on AWS each read is a FilterLogEvents call from the account's
 * budget of 5/s, so a page open all day stays a small part of it).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, envPath, get } from './api';
import { plural } from './format';

const REFRESH_MS = 10_000;
/** Lines one read asks for: a screenful or two. */
const LINES = 60;

interface LogLine {
  time: number | null;
  source: string;
  message: string;
}

interface ServiceLogs {
  timed: boolean;
  lines: LogLine[];
}

export function RecentLogs(props: {
  env: string;
  service: string;
  /** Lines the failure box shows ("[replica 0] listening"): not repeated here. */
  shownAbove: Set<string>;
  /** Changes when the service's events move: read again (a deploy started new replicas). */
  refreshKey: number;
}) {
  const { env, service, shownAbove, refreshKey } = props;
  const [logs, setLogs] = useState<ServiceLogs | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setLogs(null);
    setError(null);
  }, [env, service]);

  useEffect(() => {
    let stopped = false;
    const load = () =>
      get<ServiceLogs>(`${envPath(env, 'services', service, 'logs')}?limit=${LINES}`).then(
        (loaded) => {
          if (stopped) return;
          setLogs(loaded);
          setError(null);
        },
        (e: unknown) => {
          if (!stopped) setError(e instanceof ApiError ? e.message : String(e));
        },
      );
    // Events come in bursts: one read a moment after the last of them.
    const soon = setTimeout(load, refreshKey === 0 ? 0 : 500);
    const every = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearTimeout(soon);
      clearInterval(every);
    };
  }, [env, service, refreshKey]);

  const above = (line: LogLine) =>
    shownAbove.has(`[${line.source}] ${line.message}`) || shownAbove.has(line.message);
  const lines = logs?.lines.filter((line) => !above(line)) ?? [];
  const omitted = (logs?.lines.length ?? 0) - lines.length;

  return (
    <div class="recent-logs" data-testid="recent-logs">
      <h3>Recent logs</h3>
      {error && !logs ? (
        <p class="dim">{error}</p>
      ) : !logs ? (
        <p class="dim">loading…</p>
      ) : logs.lines.length === 0 ? (
        <p class="dim">
          no log lines{logs.timed ? ' in the last 10 minutes' : ''} (on the command line: berth logs {service}{' '}
          --env {env})
        </p>
      ) : (
        <>
          {lines.length > 0 && (
            <pre class="log">
              {lines.map((line, at) => (
                <span class="line" data-testid="recent-log-line" key={at}>
                  <span class="source">
                    {line.time !== null && <time>{new Date(line.time).toISOString()} </time>}
                    {line.source}
                  </span>{' '}
                  {line.message}
                </span>
              ))}
            </pre>
          )}
          {omitted > 0 && <p class="dim">{plural(omitted, 'more line')} shown above with the failure</p>}
        </>
      )}
    </div>
  );
}
