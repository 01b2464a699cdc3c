/**
 * Secrets in the open, the attacks:
 * - a secret value set for a service shows up in history, events, status, audit, the timeline,
 *   `runtime ls`, `--json`, the runtime's state file, the logs berth shows, or the API;
 * - a viewer token reads plain env values (SECRET_KEY: ...) in history, status or plan;
 * - a secret value is passed on the command line (visible in `ps` and shell history).
 * berth now keeps values in a 0600 secret store (`berth secret set` reads stdin), specs hold
 * only names, replicas get the value when they start, and viewers see env names without values.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUp, stopRuntime, type UpProcess } from '../test/helpers/control-plane.js';
import { BERTH_BIN, runCli, type CliResult } from '../test/helpers/cli.js';
import { proxyRequest, waitFor } from '../test/helpers/runtime.js';

const SECRET = 'sup3r-s3cret-d4tabase-url';
const PLAIN = 'plain-value-only-for-deployers';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `berth ARGS` with `input` on stdin, as `printf %s "$X" | berth ...` would. */
function runWithStdin(
  args: string[],
  input: string,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [BERTH_BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1', BERTH_HOME: dataDir, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A service that prints its secret (as careless services do) and serves what it got. */
function serviceDir(name: string, secretName = 'db-url'): string {
  const dir = tempDir('berth-secret-svc-');
  writeFileSync(
    join(dir, 'server.js'),
    [
      "console.log('connecting to ' + process.env.DATABASE_URL);",
      "require('http').createServer((q, r) => r.end(JSON.stringify({ db: process.env.DATABASE_URL, plain: process.env.PLAIN_KEY })))",
      '  .listen(process.env.PORT);',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'berth.yaml'),
    [
      `name: ${name}`,
      'run: { command: [node, server.js] }',
      'health: { path: /, interval: 200ms, timeout: 150ms }',
      `env: { PLAIN_KEY: ${PLAIN} }`,
      `secrets: { DATABASE_URL: ${secretName} }`,
      '',
    ].join('\n'),
  );
  return dir;
}

async function api(up: UpProcess, token: string, path: string, init: RequestInit = {}) {
  const response = await fetch(`${up.api}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });
  return { status: response.status, text: await response.text() };
}

describe('secrets and env values', () => {
  it('keeps secret values out of everything berth shows, and env values from viewers', async () => {
    const dataDir = tempDir('berth-secrets-');
    const up = await startUp(dataDir);
    cleanups.push(async () => {
      await up.kill();
      await stopRuntime(dataDir);
    });

    // The value is read from stdin; the command line carries only its name.
    const set = await runWithStdin(['secret', 'set', 'db-url', '--env', 'local'], `${SECRET}\n`, dataDir);
    expect(set.code, set.stderr).toBe(0);
    expect(statSync(join(dataDir, 'secrets', 'local.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'secrets')).mode & 0o777).toBe(0o700);
    const ls = await runCli(['secret', 'ls', '--env', 'local', '--json'], { dataDir });
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([{ name: 'db-url', updatedAt: expect.any(String) }]);
    expect(ls.stdout + ls.stderr).not.toContain(SECRET);
    // There is no way to pass the value as an argument.
    const argv = await runCli(['secret', 'set', 'db-url', SECRET, '--env', 'local'], { dataDir });
    expect(argv.code).toBe(2);

    // A spec naming a secret nobody set fails clearly, before any replica starts.
    const missing = await runCli(['deploy', serviceDir('nosecret', 'never-set'), '--env', 'local'], {
      dataDir,
    });
    expect(missing.code, missing.stderr).toBe(1);
    const why = await runCli(['events', 'nosecret', '--env', 'local'], { dataDir });
    expect(why.stdout).toContain('secrets not set: DATABASE_URL (secret "never-set" in local)');

    const deploy = await runCli(['deploy', serviceDir('shop'), '--env', 'local'], { dataDir });
    expect(deploy.code, deploy.stderr).toBe(0);
    const answer = await proxyRequest(up.proxyPort, 'shop.local.localhost', '/');
    expect(JSON.parse(answer.body)).toEqual({ db: SECRET, plain: PLAIN });

    // Everything berth shows about the service, as a user or a script would read it.
    const runtimeLs = await runCli(['runtime', 'ls', '--json'], { dataDir });
    const computeId = (JSON.parse(runtimeLs.stdout) as { id: string; name: string }[]).find((item) =>
      item.name?.startsWith('shop-'),
    )!.id;
    await waitFor(
      async () =>
        (await runCli(['runtime', 'logs', computeId], { dataDir })).stdout.includes('connecting to'),
      { what: 'the replica logging', timeoutMs: 15_000 },
    );
    const shown: Record<string, CliResult> = {
      'runtime ls': runtimeLs,
      'runtime logs': await runCli(['runtime', 'logs', computeId], { dataDir }),
      history: await runCli(['history', 'shop', '--env', 'local', '--json'], { dataDir }),
      events: await runCli(['events', 'shop', '--env', 'local', '--json'], { dataDir }),
      status: await runCli(['status', 'shop', '--env', 'local', '--json'], { dataDir }),
      audit: await runCli(['audit', '--env', 'local', '--json'], { dataDir }),
      timeline: await runCli(['timeline', '--env', 'local', '--format', 'json'], { dataDir }),
      'status --direct': await runCli(['status', 'shop', '--env', 'local', '--json', '--direct'], {
        dataDir,
      }),
    };
    for (const [what, result] of Object.entries(shown)) {
      expect(result.code, `${what}: ${result.stderr}`).toBe(0);
      expect(result.stdout + result.stderr, what).not.toContain(SECRET);
    }
    expect(shown['runtime logs']!.stdout).toContain('connecting to ********');
    expect(shown.history!.stdout).toContain('db-url'); // the name is there, for review
    expect(JSON.parse(shown.audit!.stdout)).toContainEqual(
      expect.objectContaining({ action: 'secret set', args: { secret: 'db-url' }, result: 'succeeded' }),
    );
    for (const file of ['runtime/state.json', 'state.db', 'runtime/activity.jsonl']) {
      expect(readFileSync(join(dataDir, file)).includes(SECRET), file).toBe(false);
    }

    // Plain env values: deployers see them, viewers see the names only (history, status, plan).
    const viewer = (
      await runCli(['token', 'create', '--role', 'viewer', '--env', 'local', '--name', 'v'], { dataDir })
    ).stdout.trim();
    const deployer = (
      await runCli(['token', 'create', '--role', 'deployer', '--env', 'local', '--name', 'd'], { dataDir })
    ).stdout.trim();
    const history = '/v1/envs/local/services/shop/history';
    const asDeployer = await api(up, deployer, history);
    expect(asDeployer.status).toBe(200);
    expect(asDeployer.text).toContain(PLAIN);
    for (const path of [
      history,
      '/v1/envs/local/services/shop',
      '/v1/envs/local/services',
      '/v1/envs/local/events',
    ]) {
      const asViewer = await api(up, viewer, path);
      expect(asViewer.status, path).toBe(200);
      expect(asViewer.text, path).not.toContain(PLAIN);
      expect(asViewer.text, path).not.toContain(SECRET);
    }
    expect((await api(up, viewer, history)).text).toContain('PLAIN_KEY');
    const spec = JSON.parse(asDeployer.text).revisions[0].spec;
    const plan = await api(up, viewer, '/v1/envs/local/plan', {
      method: 'POST',
      body: JSON.stringify({ spec: { ...spec, env: { PLAIN_KEY: 'new-plain-value-42' } } }),
    });
    expect(plan.status, plan.text).toBe(200);
    expect(plan.text).not.toContain(PLAIN);
    expect(plan.text).not.toContain('new-plain-value-42');
    expect(plan.text).toContain('env: changes PLAIN_KEY');

    // rm: the name is gone from ls, and the value from the store file.
    const rm = await runCli(['secret', 'rm', 'db-url', '--env', 'local'], { dataDir });
    expect(rm.code, rm.stderr).toBe(0);
    expect(readFileSync(join(dataDir, 'secrets', 'local.json'), 'utf8')).not.toContain(SECRET);
  }, 180_000);

  it('lets a team manage secrets through the API: admins set and remove, deployers see names, nobody reads a value back', async () => {
    const dataDir = tempDir('berth-secrets-api-');
    const up = await startUp(dataDir);
    cleanups.push(async () => {
      await up.kill();
      await stopRuntime(dataDir);
    });
    const token = async (role: string, name: string) =>
      (
        await runCli(['token', 'create', '--role', role, '--env', 'local', '--name', name], { dataDir })
      ).stdout
        .trim()
        .split('\n')
        .pop()!;
    const deployer = await token('deployer', 'ci');
    const viewer = await token('viewer', 'intern');
    const NAME = 'team/db-url';

    // The attack: a deployer sets the value every service that names it will read.
    const refused = await runWithStdin(['secret', 'set', NAME, '--env', 'local'], SECRET, dataDir, {
      BERTH_TOKEN: deployer,
    });
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain('needs admin');
    expect(refused.stderr).not.toContain(SECRET);
    const overHttp = await api(up, deployer, `/v1/envs/local/secrets/${encodeURIComponent(NAME)}`, {
      method: 'PUT',
      body: JSON.stringify({ value: SECRET }),
    });
    expect(overHttp.status).toBe(403);
    expect(overHttp.text).not.toContain(SECRET);

    // An admin (this CLI's own token, found through the running API) sets it through the API.
    const set = await runWithStdin(['secret', 'set', NAME, '--env', 'local'], `${SECRET}\n`, dataDir);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toContain(`set secret ${NAME} in the local secret store (local)`);
    expect(set.stderr).not.toContain(SECRET);

    // Deployers see names (to write `secrets:`), viewers nothing, nobody a value.
    const listed = await api(up, deployer, '/v1/envs/local/secrets');
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.text)).toEqual([{ name: NAME, updatedAt: expect.any(String) }]);
    expect((await api(up, viewer, '/v1/envs/local/secrets')).status).toBe(403);
    const ls = await runCli(['secret', 'ls', '--env', 'local', '--json'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(NAME);
    expect(ls.stdout + ls.stderr).not.toContain(SECRET);

    // A bad name or value is refused clearly, without echoing the value.
    const badName = await api(up, up.token, `/v1/envs/local/secrets/${encodeURIComponent('db url')}`, {
      method: 'PUT',
      body: JSON.stringify({ value: SECRET }),
    });
    expect(badName.status).toBe(400);
    expect(badName.text).toContain('secret name');
    expect(badName.text).not.toContain(SECRET);
    const nul = await api(up, up.token, '/v1/envs/local/secrets/x', {
      method: 'PUT',
      body: JSON.stringify({ value: `${SECRET}\u0000` }),
    });
    expect(nul.status).toBe(400);
    expect(nul.text).not.toContain(SECRET);

    // The service gets the value the admin set.
    const deploy = await runCli(['deploy', serviceDir('shop', NAME), '--env', 'local'], { dataDir });
    expect(deploy.code, deploy.stderr).toBe(0);
    const answer = await proxyRequest(up.proxyPort, 'shop.local.localhost', '/');
    expect(JSON.parse(answer.body).db).toBe(SECRET);

    // Removing needs admin too; removing what is not there says so.
    const rmRefused = await runCli(['secret', 'rm', NAME, '--env', 'local'], {
      dataDir,
      env: { BERTH_TOKEN: deployer },
    });
    expect(rmRefused.code, rmRefused.stderr).toBe(3);
    const rm = await runCli(['secret', 'rm', NAME, '--env', 'local'], { dataDir });
    expect(rm.code, rm.stderr).toBe(0);
    const again = await runCli(['secret', 'rm', NAME, '--env', 'local'], { dataDir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`there is no secret named "${NAME}" in local`);

    // The audit trail names who did what through which interface, never the value.
    const audit = await runCli(['audit', '--env', 'local', '--json'], { dataDir });
    expect(audit.stdout).not.toContain(SECRET);
    const entries = (
      JSON.parse(audit.stdout) as {
        action: string;
        actor: string;
        interface: string;
        args: Record<string, string>;
        result: string;
      }[]
    )
      .filter((entry) => entry.action.includes('secret'))
      .map(
        (entry) =>
          `${entry.action} ${entry.args.secret ?? entry.args.name ?? '-'} ${entry.actor} ${entry.interface} ${entry.result.split(':')[0]}`,
      );
    expect(entries).toEqual([
      `PUT /v1/envs/:env/secrets/:name ${NAME} ci api refused`,
      `PUT /v1/envs/:env/secrets/:name ${NAME} ci api refused`,
      `secret set ${NAME} local-admin api succeeded`,
      'GET /v1/envs/:env/secrets - intern api refused',
      `DELETE /v1/envs/:env/secrets/:name ${NAME} ci api refused`,
      `secret rm ${NAME} local-admin api succeeded`,
      `secret rm ${NAME} local-admin api rejected`,
    ]);
  }, 180_000);
});
