import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BERTH_BIN, EXAMPLES, runCli, spawnCli } from '../helpers/cli.js';
import { startTestRuntime, waitFor, type TestRuntime } from '../helpers/runtime.js';
import { helloSpec, writeSpecFile } from '../helpers/berth.js';
import { runOnTty } from '../helpers/tty.js';
import { displayWidth } from '../../src/cli/render/table.js';

const LONG = 'checkout-with-long-name-x'; // runtime names stop at 40 characters
const ESC = '\x1b';
const widest = (text: string) => Math.max(0, ...text.split('\n').map((line) => displayWidth(line)));

describe('terminal manners', () => {
  let runtime: TestRuntime;
  // As a script would run it: no terminal, 80 columns, and no NO_COLOR to hide behind.
  const cli = (...args: string[]) =>
    runCli(args, { dataDir: runtime.dataDir, env: { COLUMNS: '80', NO_COLOR: '' } });
  const tty = (args: string[]) =>
    runOnTty([process.execPath, BERTH_BIN, ...args, '--data-dir', runtime.dataDir], {
      env: { NO_COLOR: '' },
    });

  beforeAll(async () => {
    runtime = await startTestRuntime();
    const deployed = await cli('deploy', writeSpecFile(helloSpec(LONG, { replicas: 1 })), '--env', 'local');
    expect(deployed.code, deployed.stderr).toBe(0);
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('fits every table and event line in 80 columns, without colour, outside a terminal', async () => {
    const spec = writeSpecFile(helloSpec(LONG, { replicas: 1 }));
    for (const args of [
      ['ls', '--env', 'local'],
      ['status', '--env', 'local'],
      ['plan', spec, '--env', 'local'],
      ['drift', '--env', 'local'],
      ['events', LONG, '--env', 'local'],
      ['history', LONG, '--env', 'local'],
      ['runtime', 'ls'],
      ['env', 'ls'],
    ]) {
      const result = await cli(...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(widest(result.stdout), `${args.join(' ')}:\n${result.stdout}`).toBeLessThanOrEqual(80);
      expect(result.stdout + result.stderr, args.join(' ')).not.toContain(ESC);
    }
    // A long URL goes on its own line rather than being cut: it is still whole.
    const ls = await cli('ls', '--env', 'local');
    expect(ls.stdout).toMatch(new RegExp(`\\n  url: http://${LONG}\\.local\\.localhost:\\d+/`));
  });

  it('prints each step once, as plain lines, outside a terminal', async () => {
    const deploy = await cli('deploy', join(EXAMPLES, 'hello'), '--env', 'local');
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr.match(/✓ validate /g)).toHaveLength(1);
    expect(deploy.stderr.match(/✓ wait until healthy /g)).toHaveLength(1);
    expect(deploy.stderr).not.toContain('…');
    expect(widest(deploy.stderr)).toBeLessThanOrEqual(80);
  });

  it('in a terminal, redraws the running step in place with a spinner and its time, in colour', async () => {
    const { code, screen } = await tty(['deploy', join(EXAMPLES, 'hello'), '--env', 'local']).exited;
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\S* wait until healthy {2}\S*\d+\.\ds/);
    expect(screen).toContain(`\r${ESC}[1A${ESC}[J`); // the live line is erased, then replaced by the result
    expect(screen).toContain(`${ESC}[32m✓`);
  });

  it('runtime kill and logs take the service name, as the README writes them', async () => {
    const logs = await cli('runtime', 'logs', LONG);
    expect(logs.code, logs.stderr).toBe(0);
    const kill = await cli('runtime', 'kill', LONG, '--replica', '0');
    expect(kill.code, kill.stderr).toBe(0);
    expect(kill.stderr).toContain(`sent SIGKILL to ${LONG}-local-g1 replica 0`);
  });

  it('delete asks y/N in a terminal, and refuses without --yes when nobody can be asked', async () => {
    const scripted = await cli('delete', LONG, '--env', 'local');
    expect(scripted.code).toBe(3);
    expect(scripted.stderr).toContain('add --yes');

    const no = tty(['delete', LONG, '--env', 'local']);
    await no.typeWhen('[y/N]', 'n\r');
    expect((await no.exited).code).toBe(3);
    expect((await cli('status', LONG, '--env', 'local')).code).toBe(0);

    // Ctrl-C at the question: exit 130, no stack trace, nothing deleted.
    const interrupted = tty(['delete', LONG, '--env', 'local']);
    await interrupted.typeWhen('[y/N]', '\x03');
    const { code, screen } = await interrupted.exited;
    expect(code).toBe(130);
    expect(screen).not.toMatch(/\n\s+at /);
    expect((await cli('status', LONG, '--env', 'local')).code).toBe(0);

    const yes = tty(['delete', LONG, '--env', 'local']);
    await yes.typeWhen('[y/N]', 'y\r');
    expect((await yes.exited).code).toBe(0);
    await waitFor(async () => (await cli('status', LONG, '--env', 'local')).code === 2);
  });

  it('exits quietly when the reader of its output stops early', () => {
    const result = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${BERTH_BIN}" status --env local --data-dir "${runtime.dataDir}" | true; echo "exit \${PIPESTATUS[0]}"`,
      ],
      { encoding: 'utf8' },
    );
    expect(result.stdout.trim()).toBe('exit 0');
    expect(result.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
  });

  it('usage errors exit 2, and every subcommand lists the global options', async () => {
    expect((await cli('deploy', '--no-such-option')).code).toBe(2);
    expect((await cli('events')).code).toBe(2);
    expect((await cli('runtime', 'kill')).code).toBe(2);
    const help = await cli('env', 'ls', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Global Options:[\s\S]*--env <name>[\s\S]*--json[\s\S]*--direct/);
  });

  it('reconcile stops at once on Ctrl-C (the lease is released, nothing waits for a timer)', async () => {
    const reconcile = spawnCli(['reconcile', '--env', 'local'], { dataDir: runtime.dataDir });
    await reconcile.waitForStderr('Ctrl-C to stop');
    await waitFor(() => reconcile.output().stdout.includes('now watches local'), { timeoutMs: 20_000 });
    const interrupted = Date.now();
    reconcile.child.kill('SIGINT');
    const { code, stdout } = await reconcile.exited;
    // bench/cli.mjs measures the time; here only that it is not the old 10 s.
    expect(Date.now() - interrupted).toBeLessThan(5_000);
    expect(code).toBe(0);
    expect(stdout).toContain('lease released');
  });
});
