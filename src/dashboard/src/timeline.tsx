/**
 * The environment's events and audit over a chosen window, with outage markers, and the same
 * Markdown export as `berth timeline` (the API renders it with the same function).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, envPath, get } from './api';
import { clock } from './format';
import type { Environment, Timeline } from './types';

const HOUR = 3_600_000;

function isoOrNull(text: string): string | null {
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? null : new Date(parsed).toISOString();
}

export function TimelineView({ env }: { env: Environment }) {
  const [since, setSince] = useState(() => new Date(Date.now() - 24 * HOUR).toISOString());
  const [until, setUntil] = useState(() => new Date().toISOString());
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [showMarkdown, setShowMarkdown] = useState(false);

  const load = async (from: string, to: string) => {
    const a = isoOrNull(from);
    const b = isoOrNull(to);
    if (!a || !b) return setError('since and until must be times like 2026-11-26T09:30:00Z');
    try {
      setTimeline(
        await get<Timeline>(
          `${envPath(env.name, 'timeline')}?since=${encodeURIComponent(a)}&until=${encodeURIComponent(b)}`,
        ),
      );
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  useEffect(() => void load(since, until), [env.name]);

  const last = (hours: number) => {
    const to = new Date().toISOString();
    const from = new Date(Date.now() - hours * HOUR).toISOString();
    setSince(from);
    setUntil(to);
    void load(from, to);
  };
  const download = () => {
    if (!timeline) return;
    const url = URL.createObjectURL(new Blob([`${timeline.markdown}\n`], { type: 'text/markdown' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `timeline-${env.name}-${timeline.since.replace(/[:.]/g, '')}.md`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <section class="timeline">
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          void load(since, until);
        }}
      >
        <label>
          since{' '}
          <input
            data-testid="since"
            value={since}
            onInput={(event) => setSince((event.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label>
          until{' '}
          <input
            data-testid="until"
            value={until}
            onInput={(event) => setUntil((event.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" data-testid="timeline-load">
          show
        </button>
        <button type="button" onClick={() => last(1)}>
          last hour
        </button>
        <button type="button" onClick={() => last(24)}>
          last day
        </button>
        <button type="button" onClick={() => last(24 * 7)}>
          last week
        </button>
        <span class="spacer" />
        <button type="button" onClick={() => setShowMarkdown(!showMarkdown)} data-testid="toggle-markdown">
          {showMarkdown ? 'table' : 'Markdown'}
        </button>
        <button type="button" onClick={download} disabled={!timeline}>
          download .md
        </button>
      </form>
      {error && <p class="error">{error}</p>}
      {timeline &&
        (showMarkdown ? (
          <pre class="markdown" data-testid="timeline-markdown">
            {timeline.markdown}
          </pre>
        ) : (
          <table class="entries" data-testid="timeline-entries">
            <thead>
              <tr>
                <th>time (UTC)</th>
                <th />
                <th>what happened</th>
              </tr>
            </thead>
            <tbody>
              {timeline.entries.length === 0 && (
                <tr>
                  <td colSpan={3} class="dim">
                    nothing happened in this window
                  </td>
                </tr>
              )}
              {timeline.entries.map((entry, index) => (
                <tr key={index} class={entry.marker ?? entry.source}>
                  <td title={clock(entry.time)} class="mono">
                    {entry.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}
                  </td>
                  <td>
                    {entry.marker === 'outage-began'
                      ? 'OUTAGE BEGINS'
                      : entry.marker === 'outage-ended'
                        ? 'OUTAGE ENDS'
                        : entry.source}
                  </td>
                  <td>{entry.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}
