import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * A lease owner names the host, the process and that process's start time:
 * `host/pid/start/random`. A runner on the same host can then tell at once that the owner died
 * (SIGKILL, crash) instead of waiting for its lease, even when the PID has since been given to
 * another process: a live PID with another start time is another process (psutil's identity).
 * The random part tells apart several owners in one process (the API's engines, reconcilers).
 *
 * `start` is `-` where no start time can be read; such an owner is judged by its PID alone, as
 * are owners written before start times were recorded (`host/pid/random`).
 */
export function newOwner(): string {
  return `${hostname()}/${process.pid}/${ownStartTime() ?? '-'}/${randomBytes(3).toString('hex')}`;
}

export interface OwnerIdentity {
  host: string;
  pid: number;
  /** Null when unknown (not recorded, or not readable on that host). */
  start: string | null;
}

/** The parts of an owner string, or null when it is not one berth wrote. */
export function parseOwner(owner: string): OwnerIdentity | null {
  const parts = owner.split('/');
  if (parts.length < 3) return null;
  const pid = Number(parts[1]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const start = parts.length >= 4 && parts[2] !== '-' ? parts[2]! : null;
  return { host: parts[0]!, pid, start };
}

/**
 * False only when the owner is known to be dead: a process on this host that no longer exists
 * (or is a zombie), or whose PID now belongs to a process that started at another time.
 * An owner on another host may be alive: only its lease's expiry tells.
 */
export function ownerMayBeAlive(owner: string | null): boolean {
  if (!owner) return false;
  const identity = parseOwner(owner);
  if (!identity || identity.host !== hostname()) return true;
  if (identity.pid === process.pid) return identity.start === null || identity.start === ownStartTime();
  if (!pidExists(identity.pid)) return false;
  if (identity.start === null) return true;
  const now = processStartTime(identity.pid);
  // Unreadable now (the process just exited, or no way to read it here): trust the PID.
  return now === null || now === identity.start;
}

export function ownerPid(owner: string | null): string {
  return owner?.split('/')[1] ?? '?';
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readProcStat(pid);
  // A zombie (killed, not yet reaped by its parent) runs nothing any more.
  return !(stat && (stat.state === 'Z' || stat.state === 'X'));
}

let ownStart: string | null | undefined;
function ownStartTime(): string | null {
  if (ownStart === undefined) ownStart = processStartTime(process.pid);
  return ownStart;
}

/**
 * When process `pid` started, as a string that differs between two processes that held the same
 * PID, or null when it cannot be read. Linux: the boot id and field 22 of /proc/PID/stat (clock
 * ticks since boot), so a reboot never makes two starts look alike. Elsewhere: `ps -o lstart=`
 * (run without a shell), in seconds since the epoch.
 */
export function processStartTime(pid: number): string | null {
  const stat = readProcStat(pid);
  if (stat) return stat.startTicks ? `${bootId()}${stat.startTicks}` : null;
  if (process.platform === 'win32' || process.platform === 'linux') return null;
  try {
    // Required here, on the platforms that need it: child_process costs every command a few ms.
    const { execFileSync } = createRequire(import.meta.url)(
      'node:child_process',
    ) as typeof import('node:child_process');
    const text = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2_000,
    }).trim();
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? `t${Math.floor(ms / 1000)}` : null;
  } catch {
    return null;
  }
}

function readProcStat(pid: number): { state: string; startTicks: string | null } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so count from the last ')'.
  // After it, field 3 (state) is index 0, so field 22 (starttime) is index 19.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTicks = fields[19] && /^\d+$/.test(fields[19]) ? fields[19] : null;
  return { state: fields[0] ?? '', startTicks };
}

let boot: string | undefined;
function bootId(): string {
  if (boot === undefined) {
    try {
      boot = `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8)}.`;
    } catch {
      boot = '';
    }
  }
  return boot;
}
