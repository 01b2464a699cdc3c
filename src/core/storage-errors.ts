/**
 * berth's data dir on a full, read-only or failing disk is not a bug in berth: the user is told
 * which folder cannot be written and why, and the command exits 1. Every write berth makes there
 * is atomic (a temp file renamed, or an SQLite transaction), so what was written before stays
 * intact, and the same command works again once space is freed.
 */
import { UserError } from './errors.js';

/** Node's fs error codes for a disk that cannot take a write, in words. */
const FS_CODES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/** SQLite's codes for the same (better-sqlite3 puts them in `code`). */
function sqliteReason(code: string): string | null {
  if (code === 'SQLITE_FULL') return 'no space left on device (SQLITE_FULL)';
  if (code.startsWith('SQLITE_READONLY')) return `the database cannot be written (${code})`;
  if (code.startsWith('SQLITE_IOERR')) return `disk I/O error (${code})`;
  if (code === 'SQLITE_CANTOPEN') return 'the database file cannot be opened (SQLITE_CANTOPEN)';
  return null;
}

/** Why the disk refused, or null when the error is not about the disk. */
export function diskFailureReason(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (Object.hasOwn(FS_CODES, code)) return `${FS_CODES[code]} (${code})`;
  return sqliteReason(code);
}

/** The failure as the user sees it (exit 1), or null when it is not the disk's. */
export function storageFailure(error: unknown, dataDir?: string): UserError | null {
  if (error instanceof UserError) return null;
  const reason = diskFailureReason(error);
  if (reason === null) return null;
  const path = (error as { path?: unknown }).path;
  const where = dataDir ? `its data dir ${dataDir}` : "the control plane's data dir";
  return new UserError(`berth cannot write to ${where}: ${reason}`, {
    code: 'storage_unavailable',
    exitCode: 1,
    details: typeof path === 'string' ? [`while writing ${path}`] : [],
    hint: 'free space on that disk (or make it writable) and run the command again; what berth recorded before is intact',
    cause: error,
  });
}
