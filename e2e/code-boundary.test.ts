/**
 * The attack: a deployer-role token deploys a command with `cwd: /` that reads berth's data dir
 * (the admin token in api-token, the runtime console's token, tokens.json, the runtime's state)
 * and serves what it read. With those it could mint an admin token for every environment.
 *
 * What stops it:
 * - replicas run as the runtime's own user only when no --replica-user is set; then choosing
 *   what runs (`run:`) through the API needs admin, and the deployer is refused (exit 3);
 * - replicas get a clean environment: the tokens and cloud credentials of whoever started berth
 *   never reach them;
 * - the data dir is 0700 and every file in it 0600, the runtime's included;
 * - when berth runs as root with --replica-user, the deployer may deploy the command, and it
 *   runs as that user and reads nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUp, stopRuntime, type UpProcess } from '../test/helpers/control-plane.js';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { proxyRequest, waitFor } from '../test/helpers/runtime.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Secrets in the environment of whoever starts berth: none may reach a replica. */
const STARTER_SECRETS = {
  AWS_SECRET_ACCESS_KEY: 'starter-aws-secret',
  GITHUB_TOKEN: 'starter-github-token',
  BERTH_TOKEN_PROBE: 'starter-berth-variable',
};

async function up(dataDir: string, env: Record<string, string> = {}): Promise<UpProcess> {
  const started = await startUp(dataDir, { ...STARTER_SECRETS, ...env });
  cleanups.push(async () => {
    await started.kill();
    await stopRuntime(dataDir);
  });
  return started;
}

/** The thief: reads every file it is told of and serves what it got, with its env and uid. */
function thiefSpec(dataDir: string, name = 'thief'): string {
  const dir = tempDir('berth-thief-');
  const targets = ['api-token', 'tokens.json', 'runtime/console.token', 'runtime/state.json', 'state.db'].map(
    (file) => join(dataDir, file),
  );
  const script = [
    "const fs = require('fs');",
    'const loot = {};',
    `for (const file of ${JSON.stringify(targets)}) {`,
    "  try { loot[file] = fs.readFileSync(file, 'utf8').slice(0, 200); } catch (e) { loot[file] = e.code; }",
    '}',
    "require('http').createServer((q, r) => r.end(JSON.stringify({ loot, env: process.env, uid: process.getuid() })))",
    '  .listen(process.env.PORT);',
  ].join('\n');
  writeFileSync(join(dir, 'thief.js'), script, { mode: 0o644 });
  writeFileSync(
    join(dir, 'berth.yaml'),
    [
      `name: ${name}`,
      'run:',
      `  command: [node, -e, ${JSON.stringify(script)}]`,
      '  cwd: /',
      'health: { path: /, interval: 200ms, timeout: 150ms }',
      '',
    ].join('\n'),
  );
  return dir;
}

async function createToken(dataDir: string, role: string, name: string): Promise<string> {
  const made = await runCli(['token', 'create', '--role', role, '--env', 'local', '--name', name], {
    dataDir,
  });
  expect(made.code, made.stderr).toBe(0);
  return made.stdout.trim().split('\n').pop()!.trim();
}

/** Every folder under `dir` is 0700 and every file 0600 (or stricter). */
function looseModes(dir: string): string[] {
  const loose: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    const mode = stat.mode & 0o777;
    if (stat.isDirectory()) {
      if (mode !== 0o700) loose.push(`${path} ${mode.toString(8)}`);
      for (const entry of readdirSync(path)) walk(join(path, entry));
    } else if ((mode & 0o077) !== 0) loose.push(`${path} ${mode.toString(8)}`);
  };
  walk(dir);
  return loose;
}

describe('a deployer token cannot become admin by deploying code', () => {
  it('refuses a deployer choosing what runs on a runtime without a replica user; replicas get a clean env; the data dir is private', async () => {
    const dataDir = tempDir('berth-boundary-');
    const { proxyPort } = await up(dataDir);
    const deployer = await createToken(dataDir, 'deployer', 'ci');

    // The attack, through the real CLI with the deployer's token.
    const thief = thiefSpec(dataDir);
    const attack = await runCli(['deploy', thief, '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(attack.code, attack.stderr).toBe(3);
    expect(attack.stderr).toContain('may not deploy the new service thief to local');
    expect(attack.stderr).toContain('needs admin');
    const runtimeLs = await runCli(['runtime', 'ls', '--json'], { dataDir });
    expect(runtimeLs.stdout).not.toContain('thief');

    // An admin deploys hello; the deployer may redeploy it, but not swap its command.
    const hello = join(EXAMPLES, 'hello');
    const admin = await runCli(['deploy', hello, '--env', 'local'], { dataDir });
    expect(admin.code, admin.stderr).toBe(0);
    const plain = await runCli(['deploy', hello, '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(plain.code, plain.stderr).toBe(0);
    // Nor let a loader variable in through the back door (NODE_OPTIONS=--require /thief.js).
    const loader = tempDir('berth-loader-');
    cpSync(hello, loader, { recursive: true });
    writeFileSync(
      join(loader, 'berth.yaml'),
      // The same run as hello's (its command, in its directory): only the loader variable differs.
      `${readFileSync(join(hello, 'berth.yaml'), 'utf8').replace('[node, server.js]', `[node, server.js]\n  cwd: ${hello}`)}` +
        '  NODE_OPTIONS: --require /tmp/thief.js\nallowLoaderEnv: [NODE_OPTIONS]\n',
    );
    const preload = await runCli(['deploy', loader, '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(preload.code, preload.stderr).toBe(3);
    expect(preload.stderr).toContain('may not change what hello runs');
    expect(preload.stderr).toContain('allowLoaderEnv: NODE_OPTIONS');
    expect(preload.stderr).not.toContain('now: ');
    // An admin lets hello have a loader variable; the deployer may redeploy it as it is, but not
    // point it at other code.
    const tuned = (value: string) => {
      writeFileSync(
        join(loader, 'berth.yaml'),
        `${readFileSync(join(hello, 'berth.yaml'), 'utf8').replace('[node, server.js]', `[node, server.js]\n  cwd: ${hello}`)}` +
          `  NODE_OPTIONS: ${value}\nallowLoaderEnv: [NODE_OPTIONS]\n`,
      );
      return loader;
    };
    const adminTuned = await runCli(['deploy', tuned('--max-old-space-size=64'), '--env', 'local'], {
      dataDir,
    });
    expect(adminTuned.code, adminTuned.stderr).toBe(0);
    const sameTuning = await runCli(['deploy', tuned('--max-old-space-size=64'), '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(sameTuning.code, sameTuning.stderr).toBe(0);
    const retuned = await runCli(['deploy', tuned('--require /tmp/thief.js'), '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(retuned.code, retuned.stderr).toBe(3);
    expect(retuned.stderr).toContain('may not change what hello runs');
    expect(retuned.stderr).toContain('NODE_OPTIONS changes');
    // the value itself is never echoed back
    expect(retuned.stderr).not.toContain('thief.js');

    const swapped = thiefSpec(dataDir, 'hello');
    const swap = await runCli(['deploy', swapped, '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(swap.code, swap.stderr).toBe(3);
    expect(swap.stderr).toContain('may not change what hello runs in local');

    // What an admin-approved replica sees: no secret of whoever started berth.
    const adminThief = await runCli(['deploy', thiefSpec(dataDir, 'envprobe'), '--env', 'local'], {
      dataDir,
    });
    expect(adminThief.code, adminThief.stderr).toBe(0);
    const seen = JSON.parse((await proxyRequest(proxyPort, 'envprobe.local.localhost', '/')).body) as {
      env: Record<string, string>;
    };
    for (const [key, value] of Object.entries(STARTER_SECRETS)) {
      expect(seen.env[key], key).toBeUndefined();
      expect(JSON.stringify(seen.env)).not.toContain(value);
    }
    expect(
      Object.keys(seen.env)
        .filter((key) => key.startsWith('BERTH_'))
        .sort(),
    ).toEqual(['BERTH_REPLICA', 'BERTH_SERVICE']);

    // The data dir and everything in it, the runtime's files and logs included, is private.
    expect(looseModes(dataDir)).toEqual([]);
  }, 120_000);

  it('with --replica-user (as root) a deployer may deploy the thief, and it reads nothing', async () => {
    const dataDir = tempDir('berth-boundary-iso-');
    if (process.getuid?.() !== 0) {
      // Not root: the runtime refuses the option rather than pretend to isolate.
      const refused = await runCli(['runtime', 'serve', '--replica-user', 'nobody'], { dataDir });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('that needs root');
      return;
    }
    const started = await up(dataDir, { BERTH_REPLICA_USER: 'nobody' });
    const deployer = await createToken(dataDir, 'deployer', 'ci');
    const deploy = await runCli(['deploy', thiefSpec(dataDir), '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(deploy.code, deploy.stderr).toBe(0);
    let seen: { loot: Record<string, string>; env: Record<string, string>; uid: number } | undefined;
    await waitFor(
      async () => {
        const response = await proxyRequest(started.proxyPort, 'thief.local.localhost', '/').catch(
          () => null,
        );
        if (response?.status === 200) seen = JSON.parse(response.body);
        return seen !== undefined;
      },
      { what: 'the thief answering', timeoutMs: 20_000 },
    );
    expect(seen!.uid).not.toBe(0);
    for (const [file, got] of Object.entries(seen!.loot)) expect(got, file).toBe('EACCES');
    for (const key of Object.keys(STARTER_SECRETS)) expect(seen!.env[key]).toBeUndefined();
    expect(seen!.env.HOME).not.toBe(process.env.HOME);
    expect(looseModes(dataDir)).toEqual([]);
  }, 120_000);
});
