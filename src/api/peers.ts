/**
 * Several `berth up` processes on one data dir are peers. Each one writes only files of its own,
 * so that they never fight over shared ones:
 * - `peers/<pid>.json`: where that peer answers, with its process identity; removed on a clean
 *   stop, and recognised as dead (by PID and start time) after a crash;
 * - `api.json` (what the CLI on this machine uses) is held by one local peer at a time: the first
 *   one, or, when its holder stops or dies, a live local peer that takes it over. A replica of the
 *   self-hosted `berth` service (started with `$PORT`) never holds it: clients reach replicas by
 *   the service's hostname, never by one replica's port.
 * Shared files that peers create once (the admin token) are made under a lock.
 */
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../core/clock.js';
import { ownerMayBeAlive, processStartTime } from '../engine/owner.js';
import { readFileOrNull, writeFileAtomic } from '../runtime/files.js';
import { readApiDiscovery, writeApiDiscovery, type ApiDiscovery } from './paths.js';

/** One `berth up` on this data dir, as its own file says. */
export interface PeerRecord {
  url: string;
  dashboardUrl: string;
  pid: number;
  host: string;
  /** The process's start time (see processStartTime); null where it cannot be read. */
  start: string | null;
  startedAt: string;
  /** Started as a replica of a service (its port came from $PORT): never holds api.json. */
  replica: boolean;
}

function peersDir(dataDir: string): string {
  return join(dataDir, 'peers');
}

function peerFile(dataDir: string, pid: number): string {
  return join(peersDir(dataDir), `${pid}.json`);
}

/** The owner string of a process identity, as lease owners write it (see engine/owner.ts). */
function ownerOf(host: string, pid: number, start: string | null | undefined): string {
  return `${host}/${pid}/${start ?? '-'}/peer`;
}

/** Whether the process a discovery file or peer record names may still run (false: known dead). */
export function processMayBeAlive(record: { pid: number; host?: string; start?: string | null }): boolean {
  return ownerMayBeAlive(ownerOf(record.host ?? hostname(), record.pid, record.start));
}

/** This process's identity, to record in the files it writes. */
export function selfIdentity(): { pid: number; host: string; start: string | null } {
  return { pid: process.pid, host: hostname(), start: processStartTime(process.pid) };
}

export function registerPeer(dataDir: string, peer: Omit<PeerRecord, 'pid' | 'host' | 'start'>): PeerRecord {
  const record: PeerRecord = { ...peer, ...selfIdentity() };
  mkdirSync(peersDir(dataDir), { recursive: true, mode: 0o700 });
  writeFileAtomic(peerFile(dataDir, process.pid), `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return record;
}

export function unregisterPeer(dataDir: string): void {
  rmSync(peerFile(dataDir, process.pid), { force: true });
}

/** The peers whose process may still run (the files of dead ones are removed on the way). */
export function livePeers(dataDir: string): PeerRecord[] {
  let names: string[];
  try {
    names = readdirSync(peersDir(dataDir));
  } catch {
    return [];
  }
  const peers: PeerRecord[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const file = join(peersDir(dataDir), name);
    let record: PeerRecord;
    try {
      record = JSON.parse(readFileOrNull(file) ?? '') as PeerRecord;
    } catch {
      continue;
    }
    if (typeof record.url !== 'string' || !Number.isInteger(record.pid)) continue;
    if (record.host === hostname() && !processMayBeAlive(record)) {
      rmSync(file, { force: true });
      continue;
    }
    peers.push(record);
  }
  return peers.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Whether api.json names a control plane that has not stopped and whose process may still run. */
export function discoveryHeld(discovery: ApiDiscovery | null): discovery is ApiDiscovery {
  return discovery !== null && !discovery.stoppedAt && processMayBeAlive(discovery);
}

function discoveryOf(peer: PeerRecord): ApiDiscovery {
  return {
    url: peer.url,
    pid: peer.pid,
    host: peer.host,
    start: peer.start,
    startedAt: peer.startedAt,
    dashboardUrl: peer.dashboardUrl,
  };
}

/** Writes api.json for `self` unless a live control plane holds it; true when `self` holds it now. */
export function claimDiscovery(dataDir: string, self: PeerRecord): boolean {
  if (self.replica) return false;
  const current = readApiDiscovery(dataDir);
  if (current && current.pid === self.pid && current.url === self.url && !current.stoppedAt) return true;
  if (discoveryHeld(current)) return false;
  writeApiDiscovery(dataDir, discoveryOf(self));
  return true;
}

/**
 * On a clean stop of the api.json holder: api.json names another live local peer when there is
 * one (the CLI keeps using the API), else it is marked stopped (the CLI then works directly).
 * Returns the peer it now names, or null.
 */
export function releaseDiscovery(dataDir: string, self: PeerRecord): PeerRecord | null {
  const current = readApiDiscovery(dataDir);
  if (!current || current.pid !== self.pid || current.url !== self.url) return null;
  const next = livePeers(dataDir).find(
    (peer) => peer.pid !== self.pid && !peer.replica && peer.host === self.host,
  );
  if (next) {
    writeApiDiscovery(dataDir, discoveryOf(next));
    return next;
  }
  writeApiDiscovery(dataDir, { ...discoveryOf(self), stoppedAt: new Date().toISOString() });
  return null;
}

const LOCK_STALE_MS = 10_000;

/**
 * Runs `work` holding `<dataDir>/<name>.lock` (created exclusively; a lock older than 10 s is
 * stale), so that peers starting at once make a shared file once.
 */
export async function withDataDirLock<T>(
  dataDir: string,
  name: string,
  work: () => T | Promise<T>,
): Promise<T> {
  const path = join(dataDir, `${name}.lock`);
  const giveUpAt = Date.now() + 2 * LOCK_STALE_MS;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS) rmSync(path, { force: true });
      } catch {
        // removed meanwhile: try again
      }
      if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${path}`);
      await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(path, { force: true });
  }
}
