/**
 * The dashboard end to end, in headless Chromium (Debian's, driven by playwright-core): a real
 * `berth up` (fresh data dir, free ports) with 1,000 services seeded in staging's store, signed in
 * through the one-time link it prints. The page lists deployed services, shows a CLI deploy's
 * steps live, shows a compute deleted behind berth's back as drifted and then healed without a
 * reload, narrows 1,000 services to one in under 100 ms, and shows production as protected. No
 * request leaves the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { stopRuntime } from '../test/helpers/control-plane.js';
import { EXAMPLES, runCli, spawnCli } from '../test/helpers/cli.js';
import { REPO_ROOT, waitFor } from '../test/helpers/runtime.js';
import { SqliteStateStore, defaultStatePath } from '../src/state/sqlite/store.js';

const CHROMIUM = '/usr/bin/chromium';
const SEEDED = 1000;
const cleanups: (() => Promise<void> | void)[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** 1,000 services in staging's record (never deployed: nothing runs, the reconciler leaves them). */
async function seedServices(dataDir: string): Promise<void> {
  const store = SqliteStateStore.open(defaultStatePath(dataDir));
  const now = new Date().toISOString();
  for (let i = 0; i < SEEDED; i++) {
    await store.putService(
      {
        env: 'staging',
        name: `svc-${String(i).padStart(4, '0')}`,
        currentRevision: null,
        lastHealthyRevision: null,
        generation: 0,
        status: 'active',
        createdAt: now,
        updatedAt: now,
      },
      null,
    );
  }
  await store.close();
}

/** A service whose replicas answer only after 2 s: its deploy's "wait until healthy" takes that long. */
function slowService(): string {
  const dir = tempDir('berth-dash-slow-');
  writeFileSync(
    join(dir, 'server.js'),
    "setTimeout(() => require('http').createServer((q, s) => s.end('slow ok')).listen(process.env.PORT), 2000);\n",
  );
  writeFileSync(
    join(dir, 'berth.yaml'),
    'name: slow\nrun:\n  command: [node, server.js]\nreplicas: 1\nhealth:\n  path: /\n  interval: 200ms\n  timeout: 100ms\n',
  );
  return dir;
}

/** A service whose health path answers 404: its deploy fails at "wait until healthy". */
function notReadyService(): string {
  const dir = tempDir('berth-dash-broken-');
  writeFileSync(
    join(dir, 'server.js'),
    "require('http').createServer((q, s) => { s.statusCode = q.url === '/ready' ? 404 : 200; s.end('x'); })" +
      ".listen(process.env.PORT, () => console.log('not ready: listening on ' + process.env.PORT));\n",
  );
  writeFileSync(
    join(dir, 'berth.yaml'),
    'name: broken\nrun:\n  command: [node, server.js]\nreplicas: 1\nhealth:\n  path: /ready\n',
  );
  return dir;
}

const CHATTY_TOKEN = 'tok-5a9c3e71';

/** A service whose replicas each print two lines, one with the value of its TOKEN variable. */
function chattyService(): string {
  const dir = tempDir('berth-dash-chatty-');
  writeFileSync(
    join(dir, 'server.js'),
    "console.log('chatty ' + process.env.BERTH_REPLICA + ' config token ' + process.env.TOKEN);\n" +
      "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, () =>" +
      " console.log('chatty ' + process.env.BERTH_REPLICA + ' ready'));\n",
  );
  writeFileSync(
    join(dir, 'berth.yaml'),
    `name: chatty\nrun:\n  command: [node, server.js]\nreplicas: 2\nhealth:\n  path: /\nenv:\n  TOKEN: ${CHATTY_TOKEN}\n`,
  );
  return dir;
}

/** Where the browser tests save their screenshots (kept out of git). */
const SCREENSHOTS = join(REPO_ROOT, 'screenshots', 'dashboard');
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

/**
 * What the page clips: a page wider than the window, or an element whose content is cut off by
 * its box (text cut by an ellipsis, a table hidden by overflow). Described for the failure message.
 */
function clipped(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const found = [];
    const root = document.documentElement;
    if (root.scrollWidth > window.innerWidth + 1) found.push('page is ' + root.scrollWidth + 'px wide');
    for (const el of document.querySelectorAll('body *')) {
      const style = getComputedStyle(el);
      if (style.display === 'none' || el.closest('.rows') && !el.closest('[data-testid=service-row]')) continue;
      const hides = style.overflowX === 'hidden' || style.overflowX === 'clip' || style.textOverflow === 'ellipsis';
      if (hides && el.scrollWidth > el.clientWidth + 1) {
        found.push((el.getAttribute('data-testid') || el.className || el.tagName) + ': ' + (el.textContent || '').slice(0, 40));
      }
      const box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > window.innerWidth + 1 && style.position !== 'fixed') {
        found.push((el.getAttribute('data-testid') || el.className || el.tagName) + ' ends at ' + Math.round(box.right) + 'px');
      }
    }
    return [...new Set(found)].slice(0, 20);
  })()`) as Promise<string[]>;
}

describe('the dashboard in a browser', () => {
  let dataDir: string;
  let info: { api: string; signIn: string; proxy: string };
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const env = { BERTH_PROXY_PORT: '0', BERTH_RUNTIME_DRAIN_MS: '100' };

  beforeAll(async () => {
    dataDir = tempDir('berth-dashboard-test-');
    await seedServices(dataDir);
    const up = spawnCli(['up', '--port', '0', '--json'], { dataDir, env });
    cleanups.push(async () => {
      if (up.child.exitCode === null && up.child.signalCode === null) {
        up.child.kill('SIGINT');
        const stopped = await Promise.race([up.exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (!stopped) up.child.kill('SIGKILL');
      }
      await stopRuntime(dataDir);
    });
    await up.waitForStderr('control plane is up', 30_000);
    info = JSON.parse(up.output().stdout.trim().split('\n')[0]!);
    expect(info.signIn).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#code=[\w-]+$/);

    const deployed = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'local'], { dataDir, env });
    expect(deployed.code, deployed.stderr).toBe(0);

    // CI installs Debian's chromium (.ci/run); without it this test fails rather than pretend.
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
    cleanups.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (request) => requests.push(request.url()));
  }, 90_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }, 60_000);

  it('signs in with the one-time link; the code leaves the address bar and works only once', async () => {
    await page.goto(info.signIn);
    await page.getByTestId('envbar').waitFor();
    expect(await page.getByTestId('env-name').textContent()).toBe('local');
    expect(page.url()).not.toContain('code=');
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    await expect.poll(() => page.getByTestId('env-identity').textContent()).toContain('rtm-');

    // The same link in another browser context: refused, the sign-in page says why.
    const other = await browser.newContext();
    try {
      const second = await other.newPage();
      await second.goto(info.signIn);
      await second.getByTestId('signin-error').waitFor();
      expect(await second.getByTestId('signin-error').textContent()).toContain('used already');
      // A pasted token signs in (by POST; it never appears in a URL).
      const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
      await second.getByLabel('API token').fill(token);
      await second.getByRole('button', { name: 'Sign in' }).click();
      await second.getByTestId('envbar').waitFor();
      expect(second.url()).not.toContain(token);
    } finally {
      await other.close();
    }
  }, 30_000);

  it('lists the deployed services with health, sync and revision', async () => {
    const row = page.locator('[data-testid=service-row][data-service=hello]');
    await row.waitFor();
    await expect.poll(() => row.getByTestId('health').textContent()).toBe('Healthy');
    expect(await row.getByTestId('sync').textContent()).toBe('InSync');
  }, 20_000);

  it('shows the steps of a deploy started from the CLI while it runs', async () => {
    await page.goto(`${info.api}/#/e/local/s/slow`);
    await page.getByTestId('service-view').waitFor();
    const deploy = spawnCli(['deploy', slowService(), '--env', 'local'], { dataDir, env });
    cleanups.push(async () => {
      if (deploy.child.exitCode === null) deploy.child.kill('SIGKILL');
    });
    const waiting = page.locator('[data-testid=step][data-step="wait until healthy"][data-status=running]');
    await waiting.waitFor({ timeout: 15_000 });
    // Live: the page showed the running step before the CLI's deploy ended.
    expect(deploy.child.exitCode, 'the deploy had already finished').toBeNull();
    expect(
      await page.locator('[data-testid=step][data-step="ensure compute"]').getAttribute('data-status'),
    ).toBe('succeeded');
    const done = await deploy.exited;
    expect(done.code, done.stderr).toBe(0);
    await page.locator('[data-testid=operation][data-status=succeeded]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid=step][data-step=record]').getAttribute('data-status')).toBe(
      'succeeded',
    );
    await expect
      .poll(() => page.getByTestId('detail-health').textContent(), { timeout: 10_000 })
      .toBe('Healthy');
  }, 40_000);

  it("shows a service's recent log lines, each once; berth logs reads the same through the API", async () => {
    const deployed = await runCli(['deploy', chattyService(), '--env', 'local'], { dataDir, env });
    expect(deployed.code, deployed.stderr).toBe(0);
    await page.goto(`${info.api}/#/e/local/s/chatty`);
    await page.getByTestId('recent-logs').waitFor();
    const printed = [
      `chatty 0 config token ${CHATTY_TOKEN}`,
      'chatty 0 ready',
      `chatty 1 config token ${CHATTY_TOKEN}`,
      'chatty 1 ready',
    ];
    await expect
      .poll(async () => (await page.getByTestId('recent-log-line').allTextContents()).join('\n'), {
        timeout: 15_000,
      })
      .toContain('chatty 1 ready');
    const lines = await page.getByTestId('recent-log-line').allTextContents();
    // As lines: each of them its own, and each printed line once on the whole page.
    for (const message of printed) {
      expect(lines.filter((line) => line.endsWith(message)).length, message).toBe(1);
      const text = await page.locator('body').innerText();
      expect(text.split(message).length - 1, message).toBe(1);
    }
    expect(lines.find((line) => line.endsWith('chatty 1 ready'))).toMatch(/^replica 1 /);

    // The CLI goes through the API of this data dir (berth up wrote api.json): a viewer's token
    // sees TOKEN's value hidden, as in every answer of the API; --direct reads the runtime itself.
    const viaApi = await runCli(['logs', 'chatty', '--env', 'local'], { dataDir });
    expect(viaApi.code, viaApi.stderr).toBe(0);
    for (const message of printed) expect(viaApi.stdout).toContain(message);
    const minted = await runCli(
      ['token', 'create', '--role', 'viewer', '--env', 'local', '--name', 'logs-viewer'],
      {
        dataDir,
      },
    );
    expect(minted.code, minted.stderr).toBe(0);
    const asViewer = await runCli(['logs', 'chatty', '--env', 'local', '--token', minted.stdout.trim()], {
      dataDir,
    });
    expect(asViewer.code, asViewer.stderr).toBe(0);
    expect(asViewer.stdout).toContain('chatty 0 config token (hidden: needs deployer)');
    expect(asViewer.stdout).not.toContain(CHATTY_TOKEN);
    const direct = await runCli(['logs', 'chatty', '--env', 'local', '--direct'], { dataDir });
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout).toContain(`chatty 1 config token ${CHATTY_TOKEN}`);
  }, 60_000);

  it('shows a compute deleted behind berth’s back as drifted, then healed, without a reload', async () => {
    await page.goto(`${info.api}/#/e/local`);
    const row = page.locator('[data-testid=service-row][data-service=hello]');
    await row.waitFor();
    await expect.poll(() => row.getByTestId('sync').textContent()).toBe('InSync');
    // Every text the sync cell of hello shows from now on, and a marker a reload would erase.
    await page.evaluate(`(() => {
      window.__noReload = true;
      window.__syncSeen = [];
      const record = () => {
        const cell = document.querySelector('[data-service=hello] [data-testid=sync]');
        const text = cell ? cell.textContent : null;
        if (text && window.__syncSeen[window.__syncSeen.length - 1] !== text) window.__syncSeen.push(text);
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
      record();
    })()`);

    const status = await runCli(['status', 'hello', '--env', 'local', '--json'], { dataDir });
    const compute = (
      JSON.parse(status.stdout)[0] as { resources: { kind: string; providerId: string }[] }
    ).resources.find((r) => r.kind === 'compute')!;
    const removed = await runCli(['runtime', 'rm', compute.providerId], { dataDir });
    expect(removed.code, removed.stderr).toBe(0);

    await waitFor(
      async () =>
        ((await page.evaluate('window.__syncSeen')) as string[]).some((text) => text.startsWith('Drifted')),
      { timeoutMs: 20_000, what: 'hello shown as drifted' },
    );
    await waitFor(
      async () => {
        const seen = (await page.evaluate('window.__syncSeen')) as string[];
        return seen.at(-1) === 'InSync' && seen.some((text) => text.startsWith('Drifted'));
      },
      { timeoutMs: 30_000, what: 'hello shown as healed' },
    );
    await expect.poll(() => row.getByTestId('health').textContent(), { timeout: 15_000 }).toBe('Healthy');
    expect(await page.evaluate('window.__noReload')).toBe(true);
    console.log(
      `sync of hello as the page showed it: ${((await page.evaluate('window.__syncSeen')) as string[]).join(' -> ')}`,
    );
  }, 60_000);

  it('narrows 1,000 services to one in under 100 ms as you type', async () => {
    await page.goto(`${info.api}/#/e/staging`);
    await expect
      .poll(() => page.getByTestId('summary').textContent(), { timeout: 20_000 })
      .toContain(`${SEEDED} services`);
    // Only the rows in view are in the DOM.
    expect(await page.getByTestId('service-row').count()).toBeLessThan(60);
    const elapsed = (await page.evaluate(`(async () => {
      const input = document.querySelector('[data-testid=search]');
      const rows = () => document.querySelectorAll('[data-testid=service-row]');
      const narrowed = () => rows().length === 1 && rows()[0].getAttribute('data-service') === 'svc-0777';
      const start = performance.now();
      input.value = 'svc-0777';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await new Promise((resolve) => {
        if (narrowed()) return resolve();
        const observer = new MutationObserver(() => {
          if (narrowed()) {
            observer.disconnect();
            resolve();
          }
        });
        observer.observe(document.body, { subtree: true, childList: true });
      });
      return performance.now() - start;
    })()`)) as number;
    console.log(`search narrowed ${SEEDED} services to one in ${elapsed.toFixed(1)} ms`);
    expect(elapsed).toBeLessThan(100);
    expect(await page.getByTestId('summary').textContent()).toContain('showing 1');
  }, 40_000);

  it('shows production as protected in the environment bar, and local as not', async () => {
    expect(await page.getByTestId('envbar').getAttribute('data-protected')).toBe('false');
    expect(await page.getByTestId('env-protected').count()).toBe(0);
    await page.goto(`${info.api}/#/e/production`);
    await expect.poll(() => page.getByTestId('env-name').textContent()).toBe('production');
    expect(await page.getByTestId('envbar').getAttribute('data-protected')).toBe('true');
    expect(await page.getByTestId('env-protected').textContent()).toBe('PROTECTED');
    expect(await page.title()).toContain('[PROTECTED] production');
  }, 20_000);

  it('offers changes only when unlocked, and a protected environment needs its name typed', async () => {
    const deployed = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'production'], {
      dataDir,
      env,
    });
    expect(deployed.code, deployed.stderr).toBe(0);
    // The API refuses a delete there without the typed name, whatever a page sends.
    const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
    const refused = await fetch(`${info.api}/v1/envs/production/services/hello`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: 'confirmation_required' });
    await page.goto(`${info.api}/#/e/production/s/hello`);
    await page.getByTestId('service-view').waitFor();
    expect(await page.getByTestId('actions').count()).toBe(0); // read-only by default
    await page.getByTestId('toggle-changes').click();
    await page.getByTestId('delete').click();
    const go = page.getByTestId('confirm-go');
    expect(await go.isDisabled()).toBe(true);
    await page.getByTestId('confirm-input').fill('staging');
    expect(await go.isDisabled()).toBe(true);
    await page.getByTestId('confirm-input').fill('production');
    await go.click();
    await expect
      .poll(() => page.getByTestId('notice').textContent(), { timeout: 10_000 })
      .toMatch(/^delete: delete op-/);
    await page.locator('[data-testid=operation][data-status=succeeded]').waitFor({ timeout: 20_000 });
  }, 60_000);

  it('exports the same timeline Markdown as berth timeline', async () => {
    await page.goto(`${info.api}/#/e/local/timeline`);
    const since = new Date(Date.now() - 3_600_000).toISOString();
    // A window that has ended: what happens while the test runs cannot change it.
    const until = new Date().toISOString();
    const cli = await runCli(['timeline', '--env', 'local', '--since', since, '--until', until], { dataDir });
    expect(cli.code, cli.stderr).toBe(0);
    await page.getByTestId('since').fill(since);
    await page.getByTestId('until').fill(until);
    await page.getByTestId('timeline-load').click();
    await page.getByTestId('toggle-markdown').click();
    await expect
      .poll(() => page.getByTestId('timeline-markdown').textContent())
      .toBe(cli.stdout.replace(/\n$/, ''));
    expect(cli.stdout).toContain('hello: deploy started');
  }, 20_000);

  it('on a phone and a desktop: nothing clipped, a short header, a failed service with its resources, failing step and log lines once', async () => {
    const failed = await runCli(
      ['deploy', notReadyService(), '--env', 'local', '--health-timeout', '2', '--no-rollback'],
      { dataDir, env },
    );
    expect(failed.code, failed.stderr).toBe(1);
    mkdirSync(SCREENSHOTS, { recursive: true });
    console.log(`dashboard screenshots: ${SCREENSHOTS}`);
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(viewport);
      await page.goto(`${info.api}/#/e/local`);
      const row = page.locator('[data-testid=service-row][data-service=broken]');
      await row.waitFor();
      await expect.poll(() => row.getByTestId('health').textContent()).toBe('Failed');
      await page.screenshot({ path: join(SCREENSHOTS, `services-${size}.png`) });
      await expect.poll(() => page.getByTestId('summary').textContent()).toMatch(/[1-9]\d* unhealthy/);
      expect(await clipped(page), `clipped on the ${size} list`).toEqual([]);
      const header = (await page.getByTestId('envbar').boundingBox())!;
      if (size === 'phone') expect(header.height, 'header height').toBeLessThanOrEqual(viewport.height * 0.1);

      await page.goto(`${info.api}/#/e/local/s/broken`);
      const failure = page.getByTestId('failure');
      await failure.waitFor();
      expect(await failure.textContent()).toContain('wait until healthy');
      expect(await failure.textContent()).toContain('GET /ready → 404');
      const lines = await failure.getByTestId('log-line').allTextContents();
      expect(lines.some((line) => line.includes('not ready: listening on'))).toBe(true);
      // Each log line once on the whole page, and the reason once.
      const text = await page.locator('body').innerText();
      expect(text.split('not ready: listening on').length - 1, text).toBe(1);
      expect(text.split('not healthy after 2s').length - 1, text).toBe(1);
      // The recent logs leave out what the failure box quotes, and say so.
      await expect
        .poll(() => page.getByTestId('recent-logs').textContent())
        .toMatch(/lines? shown above with the failure/);
      const kinds = await page
        .getByTestId('resource')
        .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-kind')));
      expect(kinds.sort()).toEqual(['compute', 'dns', 'healthcheck']);
      expect(await clipped(page), `clipped on the ${size} service page`).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, `failed-service-${size}.png`), fullPage: true });
    }
    // A protected environment's bar (its badge, stripes and thicker edge) fits on a phone too.
    await page.setViewportSize(VIEWPORTS.phone);
    await page.goto(`${info.api}/#/e/production`);
    await expect.poll(() => page.getByTestId('env-name').textContent()).toBe('production');
    await page.getByTestId('env-protected').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, `production-phone.png`) });
    const bar = (await page.getByTestId('envbar').boundingBox())!;
    expect(bar.height, 'protected header height').toBeLessThanOrEqual(VIEWPORTS.phone.height * 0.1);
    expect(await clipped(page), 'clipped on the phone, production').toEqual([]);
    await page.setViewportSize(VIEWPORTS.desktop);
  }, 60_000);

  it('sent no request anywhere but the control plane', () => {
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((url) => !url.startsWith(`${info.api}/`) && !url.startsWith('data:'))).toEqual([]);
  });
});
