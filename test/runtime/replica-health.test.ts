import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/runtime/supervisor.js';
import {
  ReplicaHealthProber,
  STARTING_PROBE_MS,
  startingProbeIntervalMs,
  startingReplicas,
} from '../../src/runtime/replica-health.js';

const health = {
  path: '/healthz',
  intervalMs: 1000,
  timeoutMs: 500,
  healthyThreshold: 1,
  unhealthyThreshold: 2,
};

async function until(condition: () => boolean, what: string): Promise<void> {
  const giveUp = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('starting replicas share one probe rate', () => {
  const probers: ReplicaHealthProber[] = [];
  let server: Server | null = null;
  afterEach(async () => {
    for (const prober of probers.splice(0)) prober.stop();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = null;
  });

  it('probes a few starting replicas at full pace and slows down when many start at once', () => {
    expect(startingProbeIntervalMs(1)).toBe(STARTING_PROBE_MS);
    expect(startingProbeIntervalMs(4)).toBe(STARTING_PROBE_MS);
    expect(startingProbeIntervalMs(40)).toBe(STARTING_PROBE_MS * 10);
  });

  it('counts replicas while they start, and no longer once healthy or stopped', async () => {
    const port = await freePort();
    const before = startingReplicas();
    for (let i = 0; i < 8; i++) {
      const prober = new ReplicaHealthProber(port, health, () => undefined);
      probers.push(prober);
      prober.start();
    }
    expect(startingReplicas()).toBe(before + 8);
    probers[0]!.stop();
    expect(startingReplicas()).toBe(before + 7);

    // The replicas start listening: every prober sees it healthy, and none counts as starting.
    server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    await until(() => probers.slice(1).every((prober) => prober.state === 'healthy'), 'healthy replicas');
    expect(startingReplicas()).toBe(before);
  });
});
