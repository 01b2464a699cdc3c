import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStateStore } from '../../src/state/sqlite/store.js';
import { buildTimeline, timelineMarkdown } from '../../src/engine/timeline.js';

describe('incident timeline', () => {
  let dir: string;
  let store: SqliteStateStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-timeline-'));
    store = SqliteStateStore.open(join(dir, 'state.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const at = (second: number) => `2026-11-26T09:00:${String(second).padStart(2, '0')}.000Z`;
  const event = (
    second: number,
    type: string,
    message: string,
    data: Record<string, unknown> | null = null,
  ) =>
    store.appendEvent({
      env: 'production',
      service: 'deployer',
      operationId: null,
      type,
      message,
      data,
      time: at(second),
    });

  it('marks where an outage began and ended, and leaves out step noise', async () => {
    await event(1, 'operation.started', 'deploy started');
    await event(2, 'step.started', 'ensure compute');
    await event(3, 'operation.succeeded', 'deploy succeeded in 2.0s');
    await event(10, 'drift.seen', 'drift: compute missing', {
      items: [{ kind: 'compute', state: 'missing' }],
    });
    await event(11, 'drift.repaired', 'repaired compute missing in 0.4s', {});
    await event(20, 'drift.seen', 'drift: healthcheck modified', {
      items: [{ kind: 'healthcheck', state: 'modified' }],
    });
    await store.appendAudit({
      actor: 'alice',
      interface: 'api',
      env: 'production',
      identity: '123456789012',
      action: 'delete',
      args: { service: 'deployer' },
      result: 'refused: production is protected',
      time: at(9),
    });
    const window = { since: at(0), until: at(59) };
    const entries = await buildTimeline(store, 'production', window);
    expect(entries.map((e) => e.marker)).toEqual([null, null, null, 'outage-began', 'outage-ended', null]);
    const markdown = timelineMarkdown('production', window, entries);
    expect(markdown.split('\n').slice(2)).toEqual([
      '| Time (UTC) | Event |',
      '| --- | --- |',
      '| 2026-11-26 09:00:01.000Z | deployer: deploy started |',
      '| 2026-11-26 09:00:03.000Z | deployer: deploy succeeded in 2.0s |',
      '| 2026-11-26 09:00:09.000Z | alice asked for delete deployer through the API as 123456789012: refused: production is protected |',
      '| 2026-11-26 09:00:10.000Z | **OUTAGE BEGINS** deployer: drift: compute missing |',
      '| 2026-11-26 09:00:11.000Z | **OUTAGE ENDS** deployer: repaired compute missing in 0.4s |',
      '| 2026-11-26 09:00:20.000Z | deployer: drift: healthcheck modified |',
    ]);
  });
});
