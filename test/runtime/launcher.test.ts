import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRuntime, ensureRuntime } from '../../src/runtime/launcher.js';
import { runtimePaths } from '../../src/runtime/paths.js';
import {
  deployService,
  HELLO_DIR,
  REPO_ROOT,
  startTestRuntime,
  stopAllTestRuntimes,
  waitFor,
  waitHealthy,
} from '../helpers/runtime.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  await stopAllTestRuntimes();
});

function berth(dataDir: string, ...args: string[]) {
  return run(process.execPath, [join(REPO_ROOT, 'bin', 'berth.js'), '--data-dir', dataDir, ...args], {
    cwd: REPO_ROOT,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

describe('runtime launcher', () => {
  it('starts one detached runtime for concurrent callers, and connects to it afterwards', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-rt-launch-'));
    const previous = process.env.BERTH_PROXY_PORT;
    process.env.BERTH_PROXY_PORT = '0';
    cleanups.push(async () => {
      const pid = (JSON.parse(readFileSync(runtimePaths(dataDir).discovery, 'utf8')) as { pid: number }).pid;
      process.kill(pid, 'SIGTERM');
      await waitFor(() => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      });
      rmSync(dataDir, { recursive: true, force: true });
    });
    try {
      expect(await connectRuntime(dataDir)).toBeNull();
      const messages: string[] = [];
      const [a, b] = await Promise.all([
        ensureRuntime(dataDir, { onStart: (m) => messages.push(m) }),
        ensureRuntime(dataDir, { onStart: (m) => messages.push(m) }),
      ]);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(/^starting the local runtime \(pid \d+\) \.\.\.$/);
      const [ia, ib] = await Promise.all([a.info(), b.info()]);
      expect(ia.pid).toBe(ib.pid);
      expect(ia.pid).not.toBe(process.pid);
      const again = await ensureRuntime(dataDir, { onStart: (m) => messages.push(m) });
      expect((await again.info()).pid).toBe(ia.pid);
      expect(messages).toHaveLength(1);
    } finally {
      if (previous === undefined) delete process.env.BERTH_PROXY_PORT;
      else process.env.BERTH_PROXY_PORT = previous;
    }
  });

  it('drives the runtime from the CLI: ls, show, kill, logs, rm, stop', async () => {
    const rt = await startTestRuntime();
    const { service, host } = await deployService(rt, { name: 'cli', replicas: 1, tags: { team: 'x' } });
    await waitHealthy(rt, service.id, 1);

    const ls = await berth(rt.dataDir, 'runtime', 'ls');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/services\s+svc-\w+\s+cli\s+1\/1 healthy\s+team=x/);
    expect(ls.stdout).toContain(host);
    const json = JSON.parse((await berth(rt.dataDir, '--json', 'runtime', 'ls', 'services')).stdout);
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ kind: 'services', id: service.id, name: 'cli' });
    const show = await berth(rt.dataDir, 'runtime', 'show', service.id);
    expect(JSON.parse(show.stdout).cwd).toBe(HELLO_DIR);

    const kill = await berth(rt.dataDir, 'runtime', 'kill', 'cli', '--replica', '0');
    expect(kill.code).toBe(0);
    await waitFor(
      async () => (await rt.client.get('services', service.id))!.replicaStatus[0]!.restarts === 1,
    );
    const logs = await berth(rt.dataDir, 'runtime', 'logs', 'cli', '--lines', '20');
    expect(logs.stdout).toContain('[cli/0] --- berth runtime: replica 0 exited: signal SIGKILL');

    const bad = await berth(rt.dataDir, 'runtime', 'rm', 'nope-123');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a runtime resource id/);
    const rm = await berth(rt.dataDir, 'runtime', 'rm', service.id);
    expect(rm.code).toBe(0);
    expect(rm.stderr).toContain(`removed services ${service.id}`);
    expect((await rt.request(host)).status).toBe(503);

    const stop = await berth(rt.dataDir, 'runtime', 'stop');
    expect(stop.code).toBe(0);
    const info = await berth(rt.dataDir, 'runtime', 'info');
    expect(info.code).toBe(4);
    expect(info.stderr).toMatch(/not running/);
  });

  it('lets in-flight requests finish when a service is deleted (drain)', async () => {
    const rt = await startTestRuntime({ env: { BERTH_RUNTIME_DRAIN_MS: '1500' } });
    const { service, host } = await deployService(rt, {
      name: 'drain',
      replicas: 1,
      command: ['node', 'upstream.mjs'],
      cwd: join(REPO_ROOT, 'test', 'runtime', 'fixtures'),
    });
    await waitHealthy(rt, service.id, 1);
    const slow = rt.request(host, '/slow?ms=700');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    expect(await rt.client.remove('services', service.id)).toBe(true);
    expect(Date.now() - started).toBeLessThan(500); // DELETE returns at once
    expect((await rt.request(host)).status).toBe(503); // no new requests
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body).toContain('slow from replica 0');
  });
});
