import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { matchesTags, type Tags } from '../core/tags.js';
import type { RuntimeActivity } from './types.js';

/** Past this size the log keeps only its newer half: an activity log, not an archive. */
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * The runtime's own record of every change made through its console, like CloudTrail for an AWS
 * account: it is how an incident timeline can say when something was deleted behind berth's
 * back, and by whom. One JSON object per line, appended; mode 0600.
 */
export class ActivityLog {
  constructor(private readonly file: string) {}

  record(entry: Omit<RuntimeActivity, 'time'>): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
    try {
      appendFileSync(this.file, line, { mode: 0o600 });
      this.trim();
    } catch {
      // A full disk: the change itself is saved already, and failing the request now would make
      // its caller retry a change that was made. The activity log is a record, kept best effort.
    }
  }

  /** Entries in [since, until] (ISO times), oldest first, optionally only for tagged resources. */
  list(window: { since: string; until: string }, tags: Tags = {}): RuntimeActivity[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const items: RuntimeActivity[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const entry = JSON.parse(line) as RuntimeActivity;
        if (entry.time >= window.since && entry.time <= window.until && matchesTags(entry.tags ?? {}, tags)) {
          items.push(entry);
        }
      } catch {
        // a torn last line after a crash: skip it
      }
    }
    return items;
  }

  private trim(): void {
    try {
      if (statSync(this.file).size <= MAX_BYTES) return;
      const lines = readFileSync(this.file, 'utf8').split('\n');
      writeFileSync(this.file, lines.slice(Math.floor(lines.length / 2)).join('\n'), { mode: 0o600 });
    } catch {
      // best effort: the log must never break a console call
    }
  }
}
