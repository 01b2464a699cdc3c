import type { ProviderActivity } from '../providers/provider.js';
import type { AuditRecord, EventRecord, StateStore } from '../state/store.js';

/** One line of an incident timeline, like the Timeline section of a postmortem. */
export interface TimelineEntry {
  /** ISO time, UTC. */
  time: string;
  service: string | null;
  /** berth's events, its audit trail, or the provider's record of changes made behind berth's back. */
  source: 'event' | 'audit' | 'provider';
  description: string;
  /** Where an outage of `service` began or ended, judged from health events. */
  marker: 'outage-began' | 'outage-ended' | null;
}

/** Events worth a line: the start and end of operations, failures, refusals, drift and health. */
const NOTABLE =
  /^(operation\.(started|resumed|succeeded|failed|cancelled|fenced)|step\.failed|rollback\.|refused|drift\.|health\.|orphan|control-plane\.)/;
/** A service stopped serving: its compute, route or DNS went missing or unhealthy. */
/** control-plane.down/recovered: the CLI found berth's own control plane down, and `berth recover` brought it back. */
const OUTAGE_BEGINS = /^(health\.(down|degraded|missing)|drift\.seen|control-plane\.down)$/;
const OUTAGE_ENDS = /^(health\.(up|restored|healthy)|drift\.repaired|control-plane\.recovered)$/;

/** Kinds and states of drift that stop a service from answering at its hostname. */
const SERVING: Record<string, string[]> = {
  compute: ['missing', 'unhealthy'],
  route: ['missing', 'modified'],
  dns: ['missing', 'modified'],
};

function servingDrift(event: EventRecord): boolean {
  if (event.type.startsWith('health.') || event.type === 'control-plane.down') return true;
  const items = Array.isArray(event.data?.items)
    ? (event.data.items as { kind?: string; state?: string }[])
    : [];
  return items.some((item) => SERVING[item.kind ?? '']?.includes(item.state ?? ''));
}

function auditLine(entry: AuditRecord): string {
  const service = typeof entry.args.service === 'string' ? ` ${entry.args.service}` : '';
  const via = entry.interface === 'api' ? 'through the API' : 'in direct mode';
  const identity = entry.identity ? ` as ${entry.identity}` : '';
  return `${entry.actor} asked for ${entry.action}${service} ${via}${identity}: ${entry.result}`;
}

/** A change behind berth's back that takes away what serves traffic. */
const SERVING_REMOVAL = / deleted (compute|route|DNS record) /;

/**
 * Events, audit entries and the provider's record of changes behind berth's back, for an
 * environment in a window, oldest first, with markers where an outage began and ended.
 */
export async function buildTimeline(
  store: StateStore,
  env: string,
  window: { since: string; until: string },
  activity: ProviderActivity[] = [],
): Promise<TimelineEntry[]> {
  const [events, audit] = await Promise.all([
    store.listEvents({ env, since: window.since, until: window.until }),
    store.listAudit({ env, since: window.since, until: window.until }),
  ]);
  const down = new Set<string>();
  const entries: TimelineEntry[] = [];
  const changes = activity.map((change) => ({ ...change, type: 'provider.change' }));
  const stream = [...changes, ...events].sort((a, b) => a.time.localeCompare(b.time));
  for (const item of stream) {
    if ('actor' in item) {
      const removal = SERVING_REMOVAL.test(item.description);
      const key = item.service ?? '';
      const marker = removal && !down.has(key) ? 'outage-began' : null;
      if (marker) down.add(key);
      entries.push({
        time: item.time,
        service: item.service,
        source: 'provider',
        description: item.service ? `${item.service}: ${item.description}` : item.description,
        marker,
      });
      continue;
    }
    const event = item;
    if (!NOTABLE.test(event.type)) continue;
    const key = event.service ?? '';
    let marker: TimelineEntry['marker'] = null;
    if (OUTAGE_BEGINS.test(event.type) && servingDrift(event) && !down.has(key)) {
      down.add(key);
      marker = 'outage-began';
    } else if (OUTAGE_ENDS.test(event.type) && down.has(key)) {
      down.delete(key);
      marker = 'outage-ended';
    }
    const where = event.service ? `${event.service}: ` : '';
    entries.push({
      time: event.time,
      service: event.service,
      source: 'event',
      description: `${where}${event.message}`,
      marker,
    });
  }
  for (const entry of audit) {
    const service = typeof entry.args.service === 'string' ? entry.args.service : null;
    entries.push({ time: entry.time, service, source: 'audit', description: auditLine(entry), marker: null });
  }
  return entries.sort((a, b) => a.time.localeCompare(b.time));
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** The timeline as a Markdown table of UTC times and plain descriptions. */
export function timelineMarkdown(
  env: string,
  window: { since: string; until: string },
  entries: TimelineEntry[],
): string {
  const lines = [
    `## Timeline: ${env}, ${window.since} to ${window.until} (UTC)`,
    '',
    '| Time (UTC) | Event |',
    '| --- | --- |',
  ];
  for (const entry of entries) {
    const time = entry.time.replace('T', ' ');
    const mark =
      entry.marker === 'outage-began'
        ? '**OUTAGE BEGINS** '
        : entry.marker === 'outage-ended'
          ? '**OUTAGE ENDS** '
          : '';
    lines.push(`| ${time} | ${mark}${cell(entry.description)} |`);
  }
  if (entries.length === 0) lines.push('| - | nothing happened in this window |');
  return lines.join('\n');
}
