/**
 * The drill: 2016-09-05 replayed on the local runtime. The deployer's own service is deleted in
 * production through the runtime's console, as the engineer who believed they were in staging
 * did; berth notices, heals it, and the timeline of that window writes itself.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, runCli, spawnCli } from '../test/helpers/cli.js';
import { proxyRequest, waitFor } from '../test/helpers/runtime.js';
import { stopRuntime } from '../test/helpers/control-plane.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('drill: replaying 2016-09-05', () => {
  it('a production compute deleted through the console is noticed, healed, and the timeline says when', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-drill-'));
    const env = { BERTH_PROXY_PORT: '0', BERTH_RUNTIME_DRAIN_MS: '100' };
    const up = spawnCli(['up', '--port', '0', '--json'], { dataDir, env });
    cleanups.push(async () => {
      up.child.kill('SIGKILL');
      await up.exited;
      await stopRuntime(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    });
    await up.waitForStderr('control plane is up', 30_000);
    const { proxy } = JSON.parse(up.output().stdout.trim().split('\n')[0]!) as { proxy: string };
    const proxyPort = Number(new URL(proxy).port);

    const deployer = mkdtempSync(join(tmpdir(), 'berth-deployer-api-'));
    cleanups.push(() => rmSync(deployer, { recursive: true, force: true }));
    cpSync(join(EXAMPLES, 'hello'), deployer, { recursive: true });
    const spec = join(deployer, 'berth.yaml');
    writeFileSync(spec, readFileSync(spec, 'utf8').replace('name: hello', 'name: deployer-api'));
    for (const target of ['staging', 'production']) {
      const deploy = await runCli(['deploy', deployer, '--env', target], { dataDir, env });
      expect(deploy.code, deploy.stderr).toBe(0);
    }

    const since = new Date().toISOString();
    const answers = async () => {
      const response = await proxyRequest(proxyPort, 'deployer-api.production.localhost', '/').catch(
        () => null,
      );
      return response?.status === 200;
    };
    expect(await answers()).toBe(true);

    // The engineer's command: delete production's compute, straight through the runtime console.
    const listed = await runCli(['runtime', 'ls', 'services', '--json'], { dataDir });
    const compute = (JSON.parse(listed.stdout) as { id: string; tags: Record<string, string> }[]).find(
      (s) => s.tags['berth:service'] === 'deployer-api' && s.tags['berth:env'] === 'production',
    )!;
    const removed = await runCli(['runtime', 'rm', compute.id], { dataDir });
    expect(removed.code, removed.stderr).toBe(0);
    const deletedAt = Date.now();

    // berth notices and heals: the service answers at its hostname again, healthy and in sync.
    await waitFor(answers, { timeoutMs: 15_000, what: 'deployer-api answering again in production' });
    const recoveredMs = Date.now() - deletedAt;
    await waitFor(
      async () => {
        const status = await runCli(['status', 'deployer-api', '--env', 'production', '--json'], { dataDir });
        const [service] = JSON.parse(status.stdout);
        return service.health === 'Healthy' && service.sync === 'InSync';
      },
      { timeoutMs: 15_000, what: 'Healthy and InSync' },
    );
    console.log(`drill: deployer-api answered again ${recoveredMs} ms after its compute was deleted`);

    const timeline = await runCli(['timeline', '--env', 'production', '--since', since, '--until', 'now'], {
      dataDir,
    });
    expect(timeline.code, timeline.stderr).toBe(0);
    console.log(timeline.stdout);
    const rows = timeline.stdout.split('\n').filter((line) => /^\| \d{4}-/.test(line));
    const find = (pattern: RegExp) => rows.findIndex((row) => pattern.test(row));
    const deletion = find(
      /\*\*OUTAGE BEGINS\*\* deployer-api: console deleted compute svc-\w+ \(deployer-api-production-g1\)/,
    );
    const detection = find(/deployer-api: drift: compute missing/);
    const repair = find(/deployer-api: repair started/);
    const recovery = find(/\*\*OUTAGE ENDS\*\* deployer-api: repaired compute missing/);
    expect(
      [deletion, detection, repair, recovery].every((index) => index >= 0),
      timeline.stdout,
    ).toBe(true);
    expect(deletion).toBeLessThan(detection);
    expect(detection).toBeLessThan(repair);
    expect(repair).toBeLessThan(recovery);
    // Staging was never touched.
    expect(timeline.stdout).not.toContain('staging');

    // The API holds production to the same rules as the CLI, whatever the token.
    const api = (JSON.parse(up.output().stdout.trim().split('\n')[0]!) as { api: string }).api;
    const admin = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
    const call = (method: string, path: string, token: string, body?: unknown) =>
      fetch(`${api}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
    const unconfirmed = await call('DELETE', '/v1/envs/production/services/deployer-api', admin);
    expect(unconfirmed.status).toBe(409);
    expect(((await unconfirmed.json()) as { message: string }).message).toContain('production is protected');
    const wrong = await call('DELETE', '/v1/envs/production/services/deployer-api?confirm=staging', admin);
    expect(wrong.status).toBe(409);
    expect(await answers()).toBe(true);
    const created = await runCli(
      ['token', 'create', '--role', 'viewer', '--env', 'production', '--name', 'eve'],
      {
        dataDir,
      },
    );
    expect(created.code, created.stderr).toBe(0);
    const viewer = created.stdout.trim().split('\n').at(-1)!.trim();
    const restore = await call('POST', '/v1/envs/production/services/deployer-api/restore', viewer, {});
    expect(restore.status).toBe(403);
    const audit = await (await call('GET', '/v1/envs/production/audit', admin)).json();
    expect(audit).toContainEqual(
      expect.objectContaining({
        actor: 'local-admin',
        action: 'delete',
        result: expect.stringMatching(/^refused: /),
      }),
    );
  });
});
