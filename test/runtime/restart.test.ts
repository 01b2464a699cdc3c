import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runtimePaths } from '../../src/runtime/paths.js';
import {
  deployService,
  replicaPids,
  startTestRuntime,
  stopAllTestRuntimes,
  waitFor,
  waitHealthy,
} from '../helpers/runtime.js';

afterEach(stopAllTestRuntimes);

describe('local runtime restarts', () => {
  it('brings its services back after being SIGKILLed, without stray replica processes', async () => {
    const rt = await startTestRuntime();
    const name = `back-${process.pid}`;
    const { service, host } = await deployService(rt, { name, replicas: 2 });
    await waitHealthy(rt, service.id, 2);
    const oldPids = (await rt.client.get('services', service.id))!.replicaStatus.map((r) => r.pid!);
    expect(replicaPids(name).sort()).toEqual([...oldPids].sort());
    const instanceId = rt.info.instanceId;

    await rt.kill('SIGKILL');
    // the replicas outlive the runtime
    expect(replicaPids(name)).toHaveLength(2);
    expect((await rt.request(host).catch((e: Error) => e)) instanceof Error).toBe(true);

    await rt.restart();
    expect(rt.info.instanceId).toBe(instanceId);
    const back = await waitHealthy(rt, service.id, 2);
    const newPids = back.replicaStatus.map((r) => r.pid!);
    for (const pid of newPids) expect(oldPids).not.toContain(pid);
    await waitFor(() => replicaPids(name).length === 2, { what: 'exactly two replica processes' });
    expect(replicaPids(name).sort()).toEqual([...newPids].sort());
    const res = await rt.request(host);
    expect(res.status).toBe(200);
    expect(await rt.client.list('routes')).toHaveLength(1);
    expect(await rt.client.list('dns')).toHaveLength(1);
  });

  it('stops replicas and removes runtime.json on SIGTERM, and starts them again on the next start', async () => {
    const rt = await startTestRuntime();
    const name = `term-${process.pid}`;
    const { service, host } = await deployService(rt, { name, replicas: 1 });
    await waitHealthy(rt, service.id, 1);
    await rt.kill('SIGTERM');
    expect(existsSync(runtimePaths(rt.dataDir).discovery)).toBe(false);
    expect(replicaPids(name)).toEqual([]);
    const state = JSON.parse(readFileSync(runtimePaths(rt.dataDir).state, 'utf8'));
    expect(state.services).toHaveLength(1);
    await rt.restart();
    await waitHealthy(rt, service.id, 1);
    expect((await rt.request(host)).status).toBe(200);
  });

  it('refuses to start a second runtime on the same data dir', async () => {
    const rt = await startTestRuntime();
    const { serveRuntime } = await import('../../src/runtime/server.js');
    await expect(serveRuntime({ dataDir: rt.dataDir, proxyPort: 0, handleSignals: false })).rejects.toThrow(
      /already running/,
    );
  });
});
