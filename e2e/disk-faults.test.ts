/**
 * Disk faults: berth's data dir on a small tmpfs that fills up, and then goes read-only.
 * - Full, with the control plane running (the SQLite store open): a deploy through the API fails
 *   with exit 1 saying the data dir is full; the CLI in direct mode says the same.
 * - Read-only: a deploy fails the same way.
 * - Nothing is corrupted: the state database passes its integrity check, the runtime's state
 *   file parses, history still shows every revision, no temp file is left behind; and once
 *   space is freed (or the disk is writable again) the same deploy succeeds.
 * Mounting needs root (CI runs as root); without root the same faults are not reproducible and
 * the test says so by asserting that it is not root. Every mount is undone in afterAll, also when
 * a test fails.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startUp, stopRuntime } from '../test/helpers/control-plane.js';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { proxyRequest, waitFor } from '../test/helpers/runtime.js';

const isRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
  }
});

/** A tmpfs of `size` at a fresh mount point; unmounted (lazily, if busy) after the tests. */
function mountTmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  cleanups.push(() => {
    try {
      execFileSync('umount', [dir]);
    } catch {
      execFileSync('umount', ['-l', dir]); // something still holds a file: detach it now
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes zeros until the filesystem is full. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // dd exits 1 at "No space left on device": that is the point
  }
  return file;
}

function specWithGreeting(greeting: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-disk-spec-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(EXAMPLES, 'hello'), dir, { recursive: true });
  const file = join(dir, 'berth.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('GREETING: hello', `GREETING: ${greeting}`));
  return dir;
}

/** What must hold after every fault: an intact database and runtime state, no temp files. */
function expectIntact(dataDir: string, revisions: number): void {
  const db = new Database(join(dataDir, 'state.db'), { readonly: true, fileMustExist: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const count = db.prepare("SELECT count(*) AS n FROM revisions WHERE service = 'hello'").get() as {
      n: number;
    };
    expect(count.n).toBe(revisions);
  } finally {
    db.close();
  }
  expect(() => JSON.parse(readFileSync(join(dataDir, 'runtime', 'state.json'), 'utf8'))).not.toThrow();
  const temps = [dataDir, join(dataDir, 'runtime')].flatMap((dir) =>
    readdirSync(dir).filter((name) => name.endsWith('.tmp')),
  );
  expect(temps).toEqual([]);
}

function expectDiskError(result: { code: number | null; stderr: string }, reason: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(/berth cannot write to (its|the control plane's) data dir/);
  expect(result.stderr).toMatch(reason);
  expect(result.stderr).not.toContain('internal error');
}

describe('the data dir on a full or read-only disk', () => {
  it('fails a deploy clearly, corrupts nothing, and works again once space is freed', async () => {
    if (!isRoot) {
      // Without root there is no tmpfs to fill; CI runs as root and runs the whole test.
      expect(isRoot).toBe(false);
      return;
    }
    const mount = mountTmpfs('16m');
    const dataDir = join(mount, 'data');
    const up = await startUp(dataDir);
    cleanups.push(async () => {
      await up.kill();
      await stopRuntime(dataDir);
    });
    const first = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'local'], { dataDir });
    expect(first.code, first.stderr).toBe(0);

    // Full, with the control plane's store open: the deploy through the API fails clearly.
    const filler = fill(mount);
    const v2 = specWithGreeting('v2');
    expectDiskError(await runCli(['deploy', v2, '--env', 'local'], { dataDir }), /no space left on device/);
    expectDiskError(
      await runCli(['deploy', v2, '--env', 'local', '--direct'], { dataDir }),
      /\((ENOSPC|SQLITE_FULL|SQLITE_IOERR\w*)\)/,
    );
    // The service kept running as it was.
    expect((await proxyRequest(up.proxyPort, 'hello.local.localhost', '/')).body).toContain('hello from');
    expectIntact(dataDir, 1);

    // Space freed: the same deploy succeeds.
    rmSync(filler);
    const retried = await runCli(['deploy', v2, '--env', 'local'], { dataDir });
    expect(retried.code, retried.stderr).toBe(0);
    await waitFor(
      async () => (await proxyRequest(up.proxyPort, 'hello.local.localhost', '/')).body.includes('v2 from'),
      { what: 'v2 answering' },
    );
    expectIntact(dataDir, 2);

    // Read-only (the control plane and runtime stopped: replicas hold their logs open).
    await up.kill();
    await stopRuntime(dataDir);
    execFileSync('mount', ['-o', 'remount,ro', mount]);
    const v3 = specWithGreeting('v3');
    expectDiskError(
      await runCli(['deploy', v3, '--env', 'local', '--direct'], { dataDir }),
      /read-only|SQLITE_READONLY|SQLITE_CANTOPEN|EROFS/,
    );
    execFileSync('mount', ['-o', 'remount,rw', mount]);
    expectIntact(dataDir, 2);
    const writable = await runCli(['deploy', v3, '--env', 'local', '--direct'], {
      dataDir,
      env: { BERTH_PROXY_PORT: '0' },
    });
    expect(writable.code, writable.stderr).toBe(0);
    expectIntact(dataDir, 3);
  }, 240_000);
});
