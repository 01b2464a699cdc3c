/**
 * The control plane end to end: `berth up` in the background (fresh data dir, free ports), a
 * deploy through the API, `events --follow` showing each step as it happens, status healthy,
 * then Ctrl-C: the control plane stops, the runtime's services keep answering, and the CLI says
 * how to go on with --direct.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopRuntime } from '../test/helpers/control-plane.js';
import { EXAMPLES, runCli, spawnCli } from '../test/helpers/cli.js';
import { proxyRequest, waitFor } from '../test/helpers/runtime.js';

const HOST = 'hello.local.localhost';
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `berth up` in the background on free ports; killed (with its runtime) after the tests. */
async function startControlPlane(dataDir: string) {
  const env = { BERTH_PROXY_PORT: '0', BERTH_RUNTIME_DRAIN_MS: '100' };
  const up = spawnCli(['up', '--port', '0', '--json'], { dataDir, env });
  cleanups.push(async () => {
    if (up.child.exitCode === null && up.child.signalCode === null) {
      up.child.kill('SIGKILL');
      await up.exited;
    }
    await stopRuntime(dataDir);
  });
  await up.waitForStderr('control plane is up', 30_000);
  return { env, up };
}

describe('berth up: the control plane', () => {
  it('deploys through the API, streams each step live, reports healthy, and stops leaving services up', async () => {
    const dataDir = tempDir('berth-up-test-');
    const { env, up } = await startControlPlane(dataDir);
    const info = JSON.parse(up.output().stdout.trim().split('\n')[0]!) as { api: string; proxy: string };
    expect(info.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const proxyPort = Number(new URL(info.proxy).port);

    // The CLI finds the API through the data dir and uses the admin token berth up made.
    const first = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'local'], { dataDir, env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('[local]');
    for (const step of ['ensure compute', 'wait until healthy', 'switch traffic', 'ensure dns', 'record']) {
      expect(first.stderr).toContain(`✓ ${step}`);
    }
    expect(first.stdout).toContain(`http://${HOST}:${proxyPort}/`);
    const whoami = await runCli(['whoami', '--env', 'local', '--json'], { dataDir });
    expect(JSON.parse(whoami.stdout)).toMatchObject({ mode: 'api', actor: 'local-admin', role: 'admin' });
    const audit = await fetch(`${info.api}/v1/envs/local/audit`, {
      headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'api-token'), 'utf8').trim()}` },
    });
    expect(await audit.json()).toContainEqual(
      expect.objectContaining({ actor: 'local-admin', interface: 'api', action: 'deploy' }),
    );

    // events --follow, then a second deploy: its steps arrive while it runs.
    const follow = spawnCli(['events', 'hello', '--env', 'local', '--follow'], { dataDir });
    cleanups.push(async () => {
      follow.child.kill('SIGTERM');
      await follow.exited;
    });
    const arrivals: { at: number; text: string }[] = [];
    follow.child.stdout!.on('data', (chunk: Buffer) =>
      arrivals.push({ at: Date.now(), text: chunk.toString() }),
    );
    await waitFor(() => follow.output().stdout.includes('operation.succeeded'), { what: 'the backlog' });
    const dir = tempDir('berth-hello-');
    cpSync(join(EXAMPLES, 'hello'), dir, { recursive: true });
    const spec = join(dir, 'berth.yaml');
    writeFileSync(spec, readFileSync(spec, 'utf8').replace(/GREETING: .*/, 'GREETING: hola'));
    const second = spawnCli(['deploy', dir, '--env', 'local'], { dataDir, env });
    const done = await second.exited;
    const finishedAt = Date.now();
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('revision 2');
    await waitFor(() => follow.output().stdout.split('operation.succeeded').length >= 3, {
      what: 'the second deploy in the followed events',
    });
    const stream = follow.output().stdout;
    for (const step of ['validate', 'ensure compute', 'wait until healthy', 'switch traffic', 'record']) {
      expect(stream).toMatch(new RegExp(`step.succeeded \\[${step}\\]`));
    }
    // "As it happens": the second deploy's first step reached the follower before the deploy ended.
    let seen = '';
    const firstStep = arrivals.find((arrival) => {
      seen += arrival.text;
      return seen.split('step.started [validate]').length >= 3;
    });
    expect(firstStep, 'the first step of the second deploy').toBeDefined();
    expect(firstStep!.at).toBeLessThanOrEqual(finishedAt);

    const status = await runCli(['status', 'hello', '--env', 'local', '--json'], { dataDir });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)[0]).toMatchObject({ name: 'hello', health: 'Healthy', revision: 2 });

    // Ctrl-C: the control plane stops; the runtime and the service keep running.
    up.child.kill('SIGINT');
    const stopped = await up.exited;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('stopped');
    const response = await proxyRequest(proxyPort, HOST, '/');
    expect(response.status).toBe(200);
    expect(response.body).toMatch(/^hola from replica/);

    // A clean stop is not an outage: the CLI runs directly by itself, and says so once.
    const after = await runCli(['status', 'hello', '--env', 'local', '--json'], { dataDir });
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).toContain('commands run directly');
    expect(JSON.parse(after.stdout)[0]).toMatchObject({ health: 'Healthy' });
    const again = await runCli(['status', 'hello', '--env', 'local', '--json'], { dataDir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('commands run directly');

    // An API that should answer and does not (named by --api here) is exit 4, naming --direct.
    const down = await runCli(['status', 'hello', '--env', 'local', '--api', info.api], { dataDir });
    expect(down.code).toBe(4);
    expect(down.stderr).toContain('berth status hello --env local --api');
    expect(down.stderr).toContain('--direct');
  }, 90_000);

  it('Ctrl-C during a step lets the step finish and leaves the operation to resume', async () => {
    const dataDir = tempDir('berth-up-stop-test-');
    const { env, up } = await startControlPlane(dataDir);

    // A service that becomes healthy only after 2.5 s: "wait until healthy" takes that long.
    const dir = tempDir('berth-slow-');
    writeFileSync(
      join(dir, 'server.js'),
      "setTimeout(() => require('http').createServer((q, s) => s.end('slow ok')).listen(process.env.PORT), 2500);\n",
    );
    writeFileSync(
      join(dir, 'berth.yaml'),
      'name: slow\nrun:\n  command: [node, server.js]\nreplicas: 1\nhealth:\n  path: /\n  interval: 200ms\n  timeout: 100ms\n',
    );
    const deploy = spawnCli(['deploy', dir, '--env', 'local'], { dataDir, env });
    // a wait update: "<why> · 0/1 healthy, <elapsed> of <deadline>"
    await deploy.waitForStderr('0/1 healthy', 30_000);
    const interruptedAt = Date.now();
    up.child.kill('SIGINT');
    const stopped = await up.exited;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('1 operation(s) stopped between steps');
    // It waited for the step rather than cutting it off.
    expect(Date.now() - interruptedAt).toBeGreaterThan(1000);

    // The deploying CLI lost the API: exit 4, naming --direct.
    const lost = await deploy.exited;
    expect(lost.code, lost.stderr).toBe(4);
    expect(lost.stderr).toContain('--direct');

    const history = await runCli(['history', 'slow', '--env', 'local', '--json', '--direct'], { dataDir });
    const [operation] = JSON.parse(history.stdout).operations;
    const steps = Object.fromEntries(
      operation.steps.map((step: { name: string; status: string }) => [step.name, step.status]),
    );
    expect(operation.status).toBe('running');
    expect(steps['wait until healthy']).toBe('succeeded');
    expect(steps['switch traffic']).toBe('pending');
    // Its lease was released on stop: a peer on another machine could resume it at once.
    expect(operation.leaseExpiresAt).toBeLessThanOrEqual(Date.now());

    // The next command resumes it at the first unfinished step.
    const resumed = await runCli(['deploy', dir, '--env', 'local', '--direct'], { dataDir, env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming deploy ${operation.id}`);
    expect(resumed.stderr).not.toMatch(/✓ wait until healthy[\s\S]*resuming/);
  }, 90_000);
});
