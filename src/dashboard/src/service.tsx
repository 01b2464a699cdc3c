/**
 * One service: its resources as a small graph, the active (or last) operation's steps updating
 * live, its drift, its recent log lines, revisions and events. Changes (deploy an earlier revision, cancel, delete) are
 * offered only when the page allows changes and the role may make them; each goes through the
 * API, with the environment's name typed for a protected environment.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, envPath, get } from './api';
import { href } from './app';
import { ConfirmDialog, type Confirmation } from './dialog';
import { Failure, failureLogLines, firstLine, isCrashReport } from './failure';
import { age, clock, duration } from './format';
import type { EnvLive } from './live';
import { RecentLogs } from './logs';
import { syncLabel, useNow } from './services';
import type { BerthEvent, Environment, History, LastFailure, Operation, ResourceView } from './types';

const STEP_ICON: Record<string, string> = {
  pending: '○',
  running: '◔',
  succeeded: '✓',
  failed: '✗',
  skipped: '–',
  cancelled: '⊘',
};

export function ServiceView(props: { env: Environment; live: EnvLive; name: string; changes: boolean }) {
  const { env, live, name } = props;
  const status = live.services.get(name) ?? null;
  const [history, setHistory] = useState<History | null>(null);
  const [operation, setOperation] = useState<Operation | null>(null);
  const [events, setEvents] = useState<BerthEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<Confirmation | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const operationTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const now = useNow();

  const loadHistory = useCallback(async () => {
    try {
      const loaded = await get<History>(envPath(env.name, 'services', name, 'history'));
      setHistory(loaded);
      setOperation((current) =>
        current &&
        loaded.operations[0] &&
        current.id === loaded.operations[0].id &&
        isNewer(current, loaded.operations[0])
          ? current
          : (loaded.operations[0] ?? null),
      );
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }, [env.name, name]);

  useEffect(() => {
    setHistory(null);
    setOperation(null);
    setEvents([]);
    void loadHistory();
    get<BerthEvent[]>(`${envPath(env.name, 'services', name, 'events')}?limit=100`).then(
      (loaded) => setEvents((current) => merge(loaded, current)),
      () => undefined,
    );
    live.refresh(name);
    return live.onEvents((event) => {
      if (event.service !== name) return;
      setEvents((current) => merge(current, [event]));
      if (event.operationId) {
        const id = event.operationId;
        // Steps change in bursts: fetch the operation once per burst.
        if (operationTimer.current) clearTimeout(operationTimer.current);
        operationTimer.current = setTimeout(() => {
          get<Operation>(envPath(env.name, 'operations', id)).then(
            (op) =>
              setOperation((current) =>
                current && current.id !== op.id && Date.parse(current.createdAt) > Date.parse(op.createdAt)
                  ? current
                  : op,
              ),
            () => undefined,
          );
        }, 120);
      }
      if (event.type.startsWith('operation.') || event.type === 'rollback.automatic') void loadHistory();
    });
  }, [env.name, name, live]);

  const run = async (what: string, method: string, path: string, body?: unknown) => {
    setConfirm(null);
    try {
      const result = await api<{ operation?: Operation } & Partial<Operation>>(method, path, body);
      const op = result.operation ?? (result as Operation);
      setNotice(`${what}: ${op.kind} ${op.id} ${op.status}`);
      if (result.operation) setOperation(result.operation);
      live.refresh(name);
      void loadHistory();
    } catch (e) {
      setNotice(
        e instanceof ApiError
          ? `${what} refused: ${e.message}${e.body.hint ? ` (${e.body.hint})` : ''}`
          : String(e),
      );
    }
  };

  const current = history?.service?.currentRevision ?? status?.revision ?? null;
  const active = status?.activeOperation ?? null;
  // The latest operation's failure is explained once, in its own box; steps and events point to it.
  const failure = status?.lastFailure ?? null;

  return (
    <section class="service" data-testid="service-view" data-service={name}>
      <p class="crumbs">
        <a href={href(env.name)}>services</a> / <strong>{name}</strong>
      </p>
      {error && !status && <p class="error">{error}</p>}
      <div class="service-head">
        <h2>{name}</h2>
        {status && (
          <>
            <span class={`health ${status.health}`} data-testid="detail-health" title={status.healthDetail}>
              {status.health}
            </span>
            <span class={`sync ${status.sync}`} data-testid="detail-sync">
              {syncLabel(status, live.drift.has(name))}
            </span>
            <span class="dim">
              revision {status.revision ?? '-'} · {status.replicas ?? '-'} replicas · observed{' '}
              {age(status.observedAt, now)} ago
              {status.healthDetail && !failure ? ` · ${status.healthDetail}` : ''}
            </span>
          </>
        )}
      </div>
      {status?.urls.length ? (
        <p class="urls">
          {status.urls.map((url) => (
            <a key={url} href={url} rel="noreferrer" target="_blank">
              {url}
            </a>
          ))}
        </p>
      ) : null}
      {failure && <Failure failure={failure} events={events} now={now} />}
      {notice && (
        <p class="notice" data-testid="notice">
          {notice}
        </p>
      )}
      {props.changes && (
        <div class="actions" data-testid="actions">
          {active && (
            <button
              type="button"
              onClick={() =>
                setConfirm({
                  title: `Cancel the ${active.kind} of ${name}?`,
                  danger: false,
                  protectedEnv: null,
                  go: () => void run('cancel', 'POST', envPath(env.name, 'services', name, 'cancel')),
                })
              }
            >
              Cancel {active.kind}
            </button>
          )}
          <button
            type="button"
            class="danger"
            data-testid="delete"
            onClick={() =>
              setConfirm({
                title: `Delete ${name} from ${env.name}, with everything it owns?`,
                danger: true,
                protectedEnv: env.protected ? env.name : null,
                go: (typed) =>
                  void run(
                    'delete',
                    'DELETE',
                    `${envPath(env.name, 'services', name)}${typed ? `?confirm=${encodeURIComponent(typed)}` : ''}`,
                  ),
              })
            }
          >
            Delete…
          </button>
        </div>
      )}

      <div class="columns">
        <div>
          <h3>Resources</h3>
          {status ? <ResourceGraph resources={status.resources} /> : <p class="dim">loading…</p>}
          <Drift resources={status?.resources ?? []} open={live.drift.get(name)?.message ?? null} />
        </div>
        <div>
          <h3>
            {operation && (operation.status === 'running' || operation.status === 'pending')
              ? 'Active operation'
              : 'Last operation'}
          </h3>
          {operation ? (
            <Steps operation={operation} now={now} explained={failure?.operationId === operation.id} />
          ) : (
            <p class="dim">no operation yet</p>
          )}
        </div>
      </div>

      <RecentLogs
        env={env.name}
        service={name}
        shownAbove={failureLogLines(failure, events)}
        refreshKey={events.at(-1)?.seq ?? 0}
      />

      <h3>Revisions</h3>
      {history ? (
        <table class="revisions" data-testid="revisions">
          <thead>
            <tr>
              <th>rev</th>
              <th>created</th>
              <th>origin</th>
              <th>replicas</th>
              <th>spec</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {history.revisions.map((revision) => (
              <tr key={revision.number} class={revision.number === current ? 'current' : ''}>
                <td>
                  {revision.number}
                  {revision.number === current ? ' (current)' : ''}
                </td>
                <td title={revision.createdAt}>{age(revision.createdAt, now)} ago</td>
                <td>
                  {revision.origin.kind === 'rollback' ? `rollback to ${revision.origin.from}` : 'deploy'}
                </td>
                <td>{revision.spec.replicas}</td>
                <td class="mono">{revision.specHash.slice(0, 12)}</td>
                <td>
                  {props.changes && revision.number !== current && (
                    <button
                      type="button"
                      data-testid={`rollback-${revision.number}`}
                      onClick={() =>
                        setConfirm({
                          title: `Deploy revision ${revision.number} of ${name} in ${env.name} (as a new revision)?`,
                          danger: false,
                          protectedEnv: env.protected ? env.name : null,
                          go: (typed) =>
                            void run(
                              `deploy revision ${revision.number}`,
                              'POST',
                              envPath(env.name, 'services', name, 'rollback'),
                              { to: revision.number, ...(typed ? { confirm: typed } : {}) },
                            ),
                        })
                      }
                    >
                      deploy this revision
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="dim">loading…</p>
      )}

      <h3>Events</h3>
      <ol class="events" data-testid="events">
        {[...events].reverse().map((event) => (
          <li
            key={event.seq}
            class={
              event.type.includes('failed') || event.type === 'drift.seen' || event.type === 'refused'
                ? 'bad'
                : event.type === 'drift.repaired'
                  ? 'good'
                  : ''
            }
          >
            <time title={event.time}>{clock(event.time)}</time> <span class="type">{event.type}</span>{' '}
            <span class="message">{eventText(event, failure)}</span>
          </li>
        ))}
      </ol>
      {confirm && <ConfirmDialog confirmation={confirm} onCancel={() => setConfirm(null)} />}
    </section>
  );
}

/** An event's message, without what the failure box already shows (the reason, log lines). */
function eventText(event: BerthEvent, failure: LastFailure | null): string {
  if (!failure || event.operationId !== failure.operationId) return event.message;
  if (event.type === 'step.failed') return 'the reason is shown above';
  return isCrashReport(event.message) ? `${firstLine(event.message)} (shown above)` : event.message;
}

function isNewer(a: Operation, b: Operation): boolean {
  const done = (op: Operation) =>
    op.steps.filter((s) => s.status !== 'pending' && s.status !== 'running').length;
  return done(a) > done(b);
}

function merge(a: BerthEvent[], b: BerthEvent[]): BerthEvent[] {
  const bySeq = new Map<number, BerthEvent>();
  for (const event of [...a, ...b]) bySeq.set(event.seq, event);
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq).slice(-200);
}

function Steps(props: { operation: Operation; now: number; explained: boolean }) {
  const { operation, now, explained } = props;
  const failedStep = operation.steps.some((step) => step.status === 'failed');
  return (
    <div
      class="operation"
      data-testid="operation"
      data-operation={operation.id}
      data-status={operation.status}
    >
      <p>
        <strong>{operation.kind}</strong> <span class="mono">{operation.id}</span>{' '}
        <span class={`opstatus ${operation.status}`}>{operation.status}</span>
        {operation.revision !== null && <> · revision {operation.revision}</>} ·{' '}
        {duration(operation.startedAt ?? operation.createdAt, operation.finishedAt, now)}
      </p>
      <ol class="steps">
        {operation.steps.map((step) => (
          <li
            key={step.name}
            class={`step ${step.status}`}
            data-testid="step"
            data-step={step.name}
            data-status={step.status}
          >
            <span class="icon">{STEP_ICON[step.status] ?? '?'}</span>
            <span class="step-name">{step.name}</span>
            <span class="timing">
              {step.startedAt ? duration(step.startedAt, step.finishedAt, now) : ''}
              {step.attempts > 1 ? ` · ${step.attempts} attempts` : ''}
            </span>
            {step.message && !(explained && step.status === 'failed') && (
              <span class="reason">{explained ? firstLine(step.message) : step.message}</span>
            )}
          </li>
        ))}
      </ol>
      {operation.error && !failedStep && !explained && <p class="error">{operation.error}</p>}
    </div>
  );
}

const KIND_LABEL: Record<string, string> = {
  dns: 'DNS',
  route: 'route',
  compute: 'compute',
  healthcheck: 'health check',
};

/** DNS -> route -> compute, with the health check watching the name: one box per resource. */
function ResourceGraph({ resources }: { resources: ResourceView[] }) {
  const main = resources.filter((r) => r.state !== 'orphaned');
  const orphans = resources.filter((r) => r.state === 'orphaned');
  const of = (kind: ResourceView['kind']) => main.filter((r) => r.kind === kind);
  const node = (r: ResourceView) => (
    <div
      key={`${r.kind}:${r.key}`}
      class={`node ${r.state}`}
      data-testid="resource"
      data-kind={r.kind}
      data-state={r.state}
    >
      <span class="kind">{KIND_LABEL[r.kind]}</span>
      <span class="mono pid" title={r.providerId ?? ''}>
        {r.providerId ?? '(none)'}
      </span>
      <span class="state">
        {r.state}
        {r.health ? ` · ${r.health.state}` : ''}
      </span>
    </div>
  );
  // A kind with nothing of it (a failed first deploy never made its route) is shown as absent.
  const lane = (kind: ResourceView['kind']) =>
    of(kind).length ? (
      of(kind).map(node)
    ) : (
      <div class="node absent" data-absent={kind}>
        <span class="kind">{KIND_LABEL[kind]}</span>
        <span class="state">none</span>
      </div>
    );
  if (resources.length === 0) return <p class="dim">no resources (never deployed)</p>;
  return (
    <div class="graph" data-testid="resource-graph">
      <div class="lane">
        {lane('dns')}
        <span class="arrow">→</span>
        {lane('route')}
        <span class="arrow">→</span>
        {lane('compute')}
      </div>
      <div class="lane sub">
        {lane('healthcheck')}
        <span class="dim">checks the service through its name</span>
      </div>
      {orphans.length > 0 && (
        <div class="lane sub">
          <span class="label">orphaned</span>
          {orphans.map(node)}
        </div>
      )}
    </div>
  );
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function Drift({ resources, open }: { resources: ResourceView[]; open: string | null }) {
  const differing = resources.filter((r) => r.state !== 'ok');
  return (
    <div class="drift" data-testid="drift">
      <h3>Drift</h3>
      {open && <p class="warn">{open}</p>}
      {differing.length === 0 ? (
        <p class="dim">none: every resource matches</p>
      ) : (
        <table>
          <tbody>
            {differing.map((r) => (
              <tr key={`${r.kind}:${r.key}:${r.providerId}`}>
                <td>{KIND_LABEL[r.kind]}</td>
                <td class={`state ${r.state}`}>{r.state}</td>
                <td>
                  {r.drift.length
                    ? r.drift.map((d) => (
                        <div key={d.field}>
                          <span class="mono">{d.field}</span>: wants{' '}
                          <span class="mono">{show(d.desired)}</span>, is{' '}
                          <span class="mono">{show(d.observed)}</span>
                        </div>
                      ))
                    : r.state === 'missing'
                      ? `${r.key} does not exist`
                      : (r.health?.detail ?? r.name)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
