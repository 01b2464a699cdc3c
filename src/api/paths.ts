import { join } from 'node:path';
import { readFileOrNull, writeFileAtomic } from '../runtime/files.js';

/** The control plane's files in the data dir. */
export interface ApiPaths {
  /** Written by `berth up`: where the control plane answers; the CLI uses the API when it exists. */
  discovery: string;
  /** Hashed tokens with their roles (0600). */
  tokens: string;
  /** The admin token the CLI on this machine uses by itself (0600). */
  localToken: string;
  /** The dashboard's sign-in codes and sessions, hashed, shared by the peers (0600). */
  sessions: string;
}

export function apiPaths(dataDir: string): ApiPaths {
  return {
    discovery: join(dataDir, 'api.json'),
    tokens: join(dataDir, 'tokens.json'),
    localToken: join(dataDir, 'api-token'),
    sessions: join(dataDir, 'sessions.json'),
  };
}

/**
 * What `berth up` writes to api.json; it stays after a stop, so the CLI keeps expecting the API.
 * Several peers on one data dir: one holds it at a time (see peers.ts); `peers/<pid>.json` lists
 * every one of them.
 */
export interface ApiDiscovery {
  url: string;
  pid: number;
  /** The host and start time of process `pid` (see engine/owner.ts), so a reused PID is not taken for it. */
  host?: string;
  start?: string | null;
  startedAt: string;
  dashboardUrl: string;
  /** Set when the control plane stopped cleanly. */
  stoppedAt?: string;
}

export function readApiDiscovery(dataDir: string): ApiDiscovery | null {
  const text = readFileOrNull(apiPaths(dataDir).discovery);
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as Partial<ApiDiscovery>;
    return typeof parsed.url === 'string' ? (parsed as ApiDiscovery) : null;
  } catch {
    return null;
  }
}

export function writeApiDiscovery(dataDir: string, discovery: ApiDiscovery): void {
  writeFileAtomic(apiPaths(dataDir).discovery, `${JSON.stringify(discovery, null, 2)}\n`, 0o644);
}
