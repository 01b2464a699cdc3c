/**
 * Every service of the environment, with instant search and filters. Filtering runs in memory
 * over the loaded list; only the rows in view are in the DOM (a fixed-height virtual list), so
 * typing stays instant with thousands of services.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { href } from './app';
import { age, plural } from './format';
import type { EnvLive } from './live';
import type { Environment, Health, ServiceStatus } from './types';

const ROW_HEIGHT = 34;
/** On a phone a row is a small card of three lines (see style.css). */
const PHONE_ROW_HEIGHT = 64;
const PHONE = '(max-width: 640px)';

/** The row height for the window's width, following it as the window changes. */
function useRowHeight(): number {
  const [phone, setPhone] = useState(() => matchMedia(PHONE).matches);
  useEffect(() => {
    const query = matchMedia(PHONE);
    const onChange = () => setPhone(query.matches);
    query.addEventListener('change', onChange);
    return () => query.removeEventListener('change', onChange);
  }, []);
  return phone ? PHONE_ROW_HEIGHT : ROW_HEIGHT;
}
const OVERSCAN = 6;

const HEALTH_RANK: Record<Health, number> = {
  Failed: 0,
  Missing: 1,
  Degraded: 2,
  Unknown: 3,
  Progressing: 4,
  Healthy: 5,
};

/** A known failure: counted as unhealthy in the summary. */
export const UNHEALTHY: ReadonlySet<Health> = new Set(['Failed', 'Missing', 'Degraded']);

/** What the sync column says: a drift the reconciler reported counts until it says repaired. */
export function syncLabel(status: ServiceStatus, driftOpen: boolean): string {
  if (status.sync === 'Repairing') return 'Drifted · repairing';
  if (status.sync === 'InSync' && driftOpen) return 'Drifted';
  return status.sync;
}

function isDrifted(status: ServiceStatus, driftOpen: boolean): boolean {
  return status.sync === 'Drifted' || status.sync === 'Repairing' || driftOpen;
}

/** Re-renders every second, for ages. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function ServiceList({ env, live }: { env: Environment; live: EnvLive }) {
  const [query, setQuery] = useState('');
  const [health, setHealth] = useState('all');
  const [sync, setSync] = useState('all');
  const search = useRef<HTMLInputElement>(null);
  const now = useNow();

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === '/' && document.activeElement?.tagName !== 'INPUT') {
        event.preventDefault();
        search.current?.focus();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);

  // Problems first (failed, missing, degraded, unknown, drifted), then by name.
  const sorted = useMemo(() => {
    const list = [...live.services.values()];
    return list.sort(
      (a, b) =>
        HEALTH_RANK[a.health] - HEALTH_RANK[b.health] ||
        Number(isDrifted(b, live.drift.has(b.name))) - Number(isDrifted(a, live.drift.has(a.name))) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
  }, [live.version]);

  const needle = query.trim().toLowerCase();
  const shown = useMemo(
    () =>
      sorted.filter((status) => {
        if (needle && !status.name.includes(needle)) return false;
        if (health !== 'all' && status.health !== health) return false;
        const drifted = isDrifted(status, live.drift.has(status.name));
        if (sync === 'drifted' && !drifted) return false;
        if (sync === 'in-sync' && (drifted || status.sync !== 'InSync')) return false;
        if (sync === 'unknown' && status.sync !== 'Unknown') return false;
        return true;
      }),
    [sorted, needle, health, sync],
  );

  const unhealthy = sorted.filter((s) => UNHEALTHY.has(s.health)).length;
  const drifted = sorted.filter((s) => isDrifted(s, live.drift.has(s.name))).length;

  if (live.error) {
    return (
      <p class="error">
        {live.error.message} {live.error.body.hint}
      </p>
    );
  }
  return (
    <section class="services">
      <div class="toolbar">
        <input
          ref={search}
          type="search"
          placeholder="search services  ( / )"
          aria-label="search services"
          data-testid="search"
          value={query}
          onInput={(event) => setQuery((event.currentTarget as HTMLInputElement).value)}
        />
        <label>
          health{' '}
          <select
            data-testid="filter-health"
            value={health}
            onChange={(event) => setHealth((event.currentTarget as HTMLSelectElement).value)}
          >
            <option value="all">all</option>
            {Object.keys(HEALTH_RANK).map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
        <label>
          sync{' '}
          <select
            data-testid="filter-sync"
            value={sync}
            onChange={(event) => setSync((event.currentTarget as HTMLSelectElement).value)}
          >
            <option value="all">all</option>
            <option value="drifted">drifted</option>
            <option value="in-sync">in sync</option>
            <option value="unknown">unknown</option>
          </select>
        </label>
        <span class="summary" data-testid="summary">
          {live.loaded ? (
            <>
              {plural(sorted.length, 'service')} ·{' '}
              <span class={unhealthy ? 'bad' : ''}>{unhealthy} unhealthy</span> ·{' '}
              <span class={drifted ? 'warn' : ''}>{drifted} drifted</span>
              {shown.length !== sorted.length && <> · showing {shown.length}</>}
            </>
          ) : (
            'loading…'
          )}
        </span>
      </div>
      <div class="grid header" role="row">
        <span>service</span>
        <span>health</span>
        <span>sync</span>
        <span>replicas</span>
        <span>revision</span>
        <span>observed</span>
        <span>operation</span>
      </div>
      <VirtualRows
        items={shown}
        render={(status) => (
          <Row
            key={status.name}
            env={env}
            status={status}
            driftOpen={live.drift.has(status.name)}
            now={now}
          />
        )}
        empty={live.loaded ? (sorted.length ? 'no service matches' : `no services in ${env.name} yet`) : ''}
      />
    </section>
  );
}

function Row({
  env,
  status,
  driftOpen,
  now,
}: {
  env: Environment;
  status: ServiceStatus;
  driftOpen: boolean;
  now: number;
}) {
  const label = syncLabel(status, driftOpen);
  const op = status.activeOperation;
  return (
    <a
      class="grid row"
      href={href(env.name, 's', status.name)}
      data-testid="service-row"
      data-service={status.name}
    >
      <span class="name">{status.name}</span>
      <span class={`health ${status.health}`} data-testid="health" title={status.healthDetail}>
        {status.health}
      </span>
      <span class={`sync ${label.startsWith('Drifted') ? 'Drifted' : status.sync}`} data-testid="sync">
        {label}
      </span>
      <span>{status.replicas ?? '-'}</span>
      <span>{status.revision ?? '-'}</span>
      <span title={status.observedAt}>{age(status.observedAt, now)} ago</span>
      <span class="op" data-testid="active-operation">
        {op
          ? `${op.kind}${op.step ? `: ${op.step}` : ''}`
          : status.repairFailing
            ? `repair failing (${status.repairFailing.attempts})`
            : ''}
      </span>
    </a>
  );
}

function VirtualRows<T>(props: { items: T[]; render: (item: T) => preact.JSX.Element; empty: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const rowHeight = useRowHeight();
  useLayoutEffect(() => {
    const element = box.current!;
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const total = props.items.length * rowHeight;
  // Clamped: a list that just got shorter must still show its rows, before the browser scrolls.
  const top = Math.min(scrollTop, Math.max(0, total - height));
  const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
  const last = Math.min(props.items.length, Math.ceil((top + height) / rowHeight) + OVERSCAN);
  return (
    <div
      class="rows"
      ref={box}
      onScroll={(event) => setScrollTop((event.currentTarget as HTMLDivElement).scrollTop)}
      data-testid="rows"
    >
      {props.items.length === 0 && props.empty && <p class="empty">{props.empty}</p>}
      <div class="rows-inner" style={{ height: `${total}px` }}>
        {props.items.slice(first, last).map((item, index) => (
          <div
            class="slot"
            key={index + first}
            style={{ transform: `translateY(${(first + index) * rowHeight}px)`, height: `${rowHeight}px` }}
          >
            {props.render(item)}
          </div>
        ))}
      </div>
    </div>
  );
}
