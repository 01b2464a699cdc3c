import { closeSync, fstatSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../core/clock.js';
import { TransientError, UserError } from '../core/errors.js';
import { RuntimeClient } from './client.js';
import { isProcessAlive, readFileOrNull } from './files.js';
import { runtimePaths } from './paths.js';
import { readDiscovery } from './discovery.js';
import type { RuntimeInfo } from './types.js';
import { PACKAGE_ROOT } from '../core/package-root.js';

const START_TIMEOUT_MS = 10_000;
const LOCK_STALE_MS = 15_000;

/** A client of the runtime that owns this data dir, or null when none is running. */
export async function connectRuntime(dataDir: string): Promise<RuntimeClient | null> {
  const paths = runtimePaths(dataDir);
  const discovery = readDiscovery(paths);
  if (!discovery || !isProcessAlive(discovery.pid)) return null;
  const token = readFileOrNull(paths.token)?.trim();
  if (!token) return null;
  const client = new RuntimeClient({ url: discovery.consoleUrl, token, timeoutMs: 5000 });
  let info: RuntimeInfo;
  try {
    info = await client.info();
    if (info.instanceId !== discovery.instanceId) return null;
  } catch (error) {
    if (error instanceof TransientError) return null;
    throw error;
  }
  return new RuntimeClient({ url: discovery.consoleUrl, token }, info);
}

/** The last lines the runtime wrote since `fromByte` (this start attempt only). */
function logTail(path: string, fromByte: number): string[] {
  const text = (readFileOrNull(path) ?? '').slice(fromByte);
  return text.trimEnd().split('\n').slice(-8);
}

function tryLock(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS) {
        rmSync(path, { force: true });
        return tryLock(path);
      }
    } catch {
      return tryLock(path);
    }
    return false;
  }
}

/**
 * A client of the running runtime; starts one (detached, surviving its starter) when none is
 * running, and reports it through onStart. Concurrent callers start at most one.
 */
export async function ensureRuntime(
  dataDir: string,
  options: { onStart?: (message: string) => void } = {},
): Promise<RuntimeClient> {
  const existing = await connectRuntime(dataDir);
  if (existing) return existing;
  const paths = runtimePaths(dataDir);
  mkdirSync(paths.dir, { recursive: true });
  const deadline = Date.now() + START_TIMEOUT_MS + LOCK_STALE_MS;
  while (!tryLock(paths.lock)) {
    // someone else is starting it: wait for them
    const client = await connectRuntime(dataDir);
    if (client) return client;
    if (Date.now() > deadline) {
      throw new UserError(`timed out waiting for another berth process to start the local runtime`, {
        hint: `remove ${paths.lock} if no berth command is running`,
      });
    }
    await sleep(100);
  }
  try {
    const again = await connectRuntime(dataDir);
    if (again) return again;
    const logFd = openSync(paths.log, 'a');
    const logStart = fstatSync(logFd).size;
    // Loaded only here: child_process (with net and dgram) costs every command a few ms otherwise.
    const { spawn } = await import('node:child_process');
    const args = [join(PACKAGE_ROOT, 'bin', 'berth.js'), 'runtime', 'serve', '--data-dir', dataDir];
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      cwd: PACKAGE_ROOT,
      env: process.env,
    });
    closeSync(logFd);
    let exited: string | null = null;
    child.on('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `code ${code}`));
    child.on('error', (error) => (exited = error.message));
    child.unref();
    options.onStart?.(`starting the local runtime (pid ${child.pid}) ...`);
    const until = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < until) {
      const discovery = readDiscovery(paths);
      if (discovery && discovery.pid === child.pid) {
        const client = await connectRuntime(dataDir);
        if (client) return client;
      }
      if (exited !== null) break;
      await sleep(50);
    }
    throw new UserError(
      exited !== null
        ? `the local runtime exited while starting (${exited})`
        : `the local runtime did not answer within ${START_TIMEOUT_MS / 1000} s`,
      {
        details: logTail(paths.log, logStart),
        hint: `see ${paths.log}; try \`berth runtime serve --data-dir ${dataDir}\` in the foreground`,
        exitCode: 4,
        code: 'runtime_unreachable',
      },
    );
  } finally {
    rmSync(paths.lock, { force: true });
  }
}
