/**
 * The drill of 2016-09-05, self-hosted: berth's control plane runs as the service `berth` in
 * production (local runtime, 2 replicas, installed with `berth install`), hello is deployed
 * through it, and then the control plane's own compute is deleted through the runtime console.
 *
 * (a) With a standby control plane (another `berth up` sharing the store): the deletion is healed
 *     like any other drift, with no human step. Measured: seconds from the deletion until the API
 *     answers at its stable name again.
 * (b) With none: the CLI finds the API gone, looks directly, says the control plane itself is
 *     down and prints one command; the test runs it as printed. Measured: seconds from that
 *     command until the API answers again. The replicas are frozen (SIGSTOP) before the deletion,
 *     as a hung control plane would be: otherwise a dying replica may start the repair itself in
 *     its last milliseconds (which is good, but is case (a), not the case without any).
 *
 * In both, `berth timeline --format md` lists the deletion, the detection and the recovery, with
 * OUTAGE BEGINS and OUTAGE ENDS. The figures are printed (`npx vitest run e2e/self-host-drill.test.ts`).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { startUp, stopRuntime } from '../test/helpers/control-plane.js';
import { proxyRequest, replicaPids, waitFor } from '../test/helpers/runtime.js';

const ENV = { BERTH_PROXY_PORT: '0', BERTH_RUNTIME_DRAIN_MS: '100' };
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Drill {
  dataDir: string;
  /** The control plane's stable URL, e.g. http://berth.production.localhost:PORT */
  url: string;
  host: string;
  proxyPort: number;
  cli(args: string[]): ReturnType<typeof runCli>;
  apiAnswers(): Promise<boolean>;
  helloAnswers(): Promise<boolean>;
  /** The engineer's command: the control plane's compute deleted through the runtime console. */
  deleteCompute(): Promise<{ id: string; name: string }>;
  computeName(): Promise<string>;
}

async function setUp(prefix: string): Promise<Drill> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const cli = (args: string[]) => runCli(args, { dataDir, env: ENV });
  cleanups.push(async () => {
    await stopRuntime(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const install = await cli(['install', '--env', 'production', '--json']);
  expect(install.code, install.stderr).toBe(0);
  const { url } = JSON.parse(install.stdout) as { url: string };
  const parsed = new URL(url);
  const proxyPort = Number(parsed.port);
  const host = parsed.hostname;
  const apiAnswers = async () =>
    (await proxyRequest(proxyPort, `${host}:${proxyPort}`, '/healthz').catch(() => null))?.status === 200;
  const helloAnswers = async () =>
    (await proxyRequest(proxyPort, 'hello.production.localhost', '/').catch(() => null))?.status === 200;
  const services = async () => {
    const listed = await cli(['runtime', 'ls', 'services', '--json']);
    return JSON.parse(listed.stdout) as { id: string; name: string; tags: Record<string, string> }[];
  };
  const compute = async () =>
    (await services()).find(
      (s) => s.tags['berth:service'] === 'berth' && s.tags['berth:env'] === 'production',
    )!;
  return {
    dataDir,
    url,
    host,
    proxyPort,
    cli,
    apiAnswers,
    helloAnswers,
    async deleteCompute() {
      const { id, name } = await compute();
      const removed = await cli(['runtime', 'rm', id]);
      expect(removed.code, removed.stderr).toBe(0);
      return { id, name };
    },
    computeName: async () => (await compute()).name,
  };
}

/** hello, deployed through the self-hosted control plane (the current context). */
async function deployHello(drill: Drill): Promise<void> {
  const deploy = await drill.cli(['deploy', join(EXAMPLES, 'hello'), '--env', 'production']);
  expect(deploy.code, deploy.stderr).toBe(0);
  const audit = await drill.cli(['audit', '--env', 'production', '--json']);
  expect(JSON.parse(audit.stdout)).toContainEqual(
    expect.objectContaining({
      action: 'deploy',
      interface: 'api',
      args: expect.objectContaining({ service: 'hello' }),
    }),
  );
  expect(await drill.helloAnswers()).toBe(true);
}

async function timeline(drill: Drill, since: string): Promise<string[]> {
  const result = await drill.cli([
    'timeline',
    '--env',
    'production',
    '--since',
    since,
    '--until',
    'now',
    '--format',
    'md',
  ]);
  expect(result.code, result.stderr).toBe(0);
  console.log(result.stdout);
  return result.stdout.split('\n').filter((line) => /^\| \d{4}-/.test(line));
}

function indexOf(rows: string[], pattern: RegExp): number {
  return rows.findIndex((row) => pattern.test(row));
}

/** Polls until `check` holds, every 50 ms; the time it first held (ms since the epoch). */
async function firstTrue(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  await waitFor(check, { timeoutMs, intervalMs: 50, what });
  return Date.now();
}

describe('drill: 2016-09-05 with berth deploying berth', () => {
  it('(a) a standby control plane heals the deleted control plane; the API answers again without a human', async () => {
    const drill = await setUp('berth-selfhost-a-');
    await deployHello(drill);
    const standby = await startUp(drill.dataDir, ENV);
    cleanups.push(() => standby.kill());
    expect(await drill.apiAnswers()).toBe(true);

    const since = new Date().toISOString();
    const deleted = await drill.deleteCompute();
    const deletedAt = Date.now();
    const answeredAt = await firstTrue(drill.apiAnswers, 60_000, 'the API answering again at its name');
    const seconds = (answeredAt - deletedAt) / 1000;
    console.log(
      `drill (a), standby control plane: the API answered again at ${drill.url} ${seconds.toFixed(1)} s after its compute was deleted (goal: 5 s; 2016: 31 min)`,
    );
    expect(await drill.computeName()).not.toBe(deleted.name);
    expect(await drill.helloAnswers()).toBe(true);
    const ls = await drill.cli(['ls', '--env', 'production', '--json']);
    expect(ls.code, ls.stderr).toBe(0);

    await waitFor(
      async () => (await timeline(drill, since)).some((row) => /OUTAGE ENDS\*\* berth:/.test(row)),
      { timeoutMs: 30_000, intervalMs: 500, what: 'the outage to end in the timeline' },
    );
    const rows = await timeline(drill, since);
    const deletion = indexOf(rows, /\*\*OUTAGE BEGINS\*\* berth: console deleted compute/);
    const detection = indexOf(rows, /berth: drift: compute missing/);
    const recovery = indexOf(rows, /\*\*OUTAGE ENDS\*\* berth: /);
    expect(
      [deletion, detection, recovery].every((i) => i >= 0),
      rows.join('\n'),
    ).toBe(true);
    expect(deletion).toBeLessThan(detection);
    expect(detection).toBeLessThan(recovery);
  }, 240_000);

  it('(b) with no control plane left, the CLI prints one command, and that command brings the API back', async () => {
    const drill = await setUp('berth-selfhost-b-');
    await deployHello(drill);
    expect(await drill.apiAnswers()).toBe(true);

    // Freeze the control plane (see the module comment), then delete its compute.
    const name = await drill.computeName();
    const frozen = replicaPids(name);
    expect(frozen.length).toBe(2);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    cleanups.push(() => {
      for (const pid of frozen) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
    const since = new Date().toISOString();
    await drill.deleteCompute();

    // Any command: the API is unreachable (exit 4), and the CLI says why and what to run.
    const down = await drill.cli(['status', 'hello', '--env', 'production']);
    expect(down.code, down.stderr).toBe(4);
    expect(down.stderr).toContain('the control plane itself (service berth in production) is down');
    const printed = /^\s*(berth recover .+)$/m.exec(down.stderr)?.[1]?.trim();
    expect(printed, down.stderr).toBe('berth recover --env production');
    console.log(`drill (b): the CLI said:\n${down.stderr}`);
    // hello kept serving all along: only the control plane was gone.
    expect(await drill.helloAnswers()).toBe(true);

    // Run it exactly as printed (no berth.yaml anywhere near), measuring until the API answers.
    const started = Date.now();
    const answered = firstTrue(drill.apiAnswers, 60_000, 'the API answering after berth recover');
    const recover = await drill.cli(printed!.split(/\s+/).slice(1));
    const answeredAt = await answered;
    expect(recover.code, recover.stderr + recover.stdout).toBe(0);
    expect(recover.stdout).toContain('its API answers at');
    const seconds = (answeredAt - started) / 1000;
    console.log(
      `drill (b), no control plane left: the API answered ${seconds.toFixed(1)} s after \`${printed}\` started (it exited after ${((Date.now() - started) / 1000).toFixed(1)} s; goal: 10 s; 2016: 31 min)`,
    );
    const ls = await drill.cli(['ls', '--env', 'production', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toContainEqual(expect.objectContaining({ name: 'hello' }));

    const rows = await timeline(drill, since);
    const deletion = indexOf(rows, /\*\*OUTAGE BEGINS\*\* berth: console deleted compute/);
    const detection = indexOf(rows, /berth: control plane found down by the CLI/);
    const recovery = indexOf(rows, /\*\*OUTAGE ENDS\*\* berth: control plane recovered/);
    expect(
      [deletion, detection, recovery].every((i) => i >= 0),
      rows.join('\n'),
    ).toBe(true);
    expect(deletion).toBeLessThan(detection);
    expect(detection).toBeLessThan(recovery);
    // Recovery audited as a direct-mode deploy of the stored revision.
    expect(readFileSync(join(drill.dataDir, 'contexts.json'), 'utf8')).toContain(drill.url);
  }, 240_000);
});
