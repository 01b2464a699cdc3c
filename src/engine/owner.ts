import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/**
 * A lease owner names the host and process that runs an operation, so that a runner on the same
 * host can tell at once that the owner died (SIGKILL, crash) instead of waiting for its lease.
 */
export function newOwner(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

/** False only when the owner is known to be dead: a process on this host that no longer exists. */
export function ownerMayBeAlive(owner: string | null): boolean {
  if (!owner) return false;
  const [host, pidText] = owner.split('/');
  if (host !== hostname()) return true;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function ownerPid(owner: string | null): string {
  return owner?.split('/')[1] ?? '?';
}
