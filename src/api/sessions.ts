/**
 * Browser sessions for the dashboard. A signed-in page holds a session cookie (HttpOnly,
 * SameSite=Strict), never an API token: the cookie is got by exchanging either a one-time code
 * (what `berth up` and `berth dashboard` print, in a URL fragment) or a pasted token, by POST.
 *
 * - A one-time code is random (128 bits), stored only as its SHA-256, valid for CODE_TTL_MS and
 *   for one exchange: the first exchange removes it, whether or not it was still valid.
 * - A session is random (256 bits), stored only as its SHA-256, and acts as the token it was
 *   made from: its roles are read from the token file on every request, so revoking the token
 *   ends the session.
 * - Codes and sessions live in this process's memory, and, for a control plane, also in
 *   `<data dir>/sessions.json` (0600, hashes only), re-read whenever another process changed it:
 *   the peers of one data dir (say, the replicas of the self-hosted `berth` service behind one
 *   name) honour each other's codes and sessions, a code is used once across all of them, and a
 *   restart does not sign anyone out.
 * - Cookie-authenticated requests that change anything must carry `x-berth-csrf: 1` (a header a
 *   cross-site form cannot send, and a cross-site script may not without CORS, which the API
 *   does not answer), and an Origin, when the browser sends one, of the API itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';
import { readFileOrNull, writeFileAtomic } from '../runtime/files.js';
import { HttpError } from './errors.js';
import type { Principal, TokenStore } from './tokens.js';

/** How long a one-time sign-in code can be exchanged. */
export const CODE_TTL_MS = 2 * 60_000;
/** How long a session lasts (the cookie's Max-Age too). */
export const SESSION_TTL_MS = 12 * 60 * 60_000;
/** The header a cookie-authenticated mutation must carry, with the value "1". */
export const CSRF_HEADER = 'x-berth-csrf';

const hashOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

interface Grant {
  /** The token (by id) the code or session acts as. */
  tokenId: string;
  expiresAt: number;
}

export interface SessionInfo {
  principal: Principal;
  expiresAt: number;
}

interface SessionFile {
  codes: Record<string, Grant>;
  sessions: Record<string, Grant>;
}

export class SessionStore {
  private codes = new Map<string, Grant>();
  private sessions = new Map<string, Grant>();
  /** The version of `file` the maps reflect (inode and mtime: every write renames a new file in). */
  private loaded = '';

  /**
   * @param file where codes and sessions are shared with the other processes of a data dir
   *   (hashes only); default none: this process's memory only.
   */
  constructor(
    private readonly tokens: TokenStore,
    private readonly now: () => number = Date.now,
    private readonly file: string | null = null,
  ) {}

  /** A one-time code that signs in as `principal`; the code is the only copy of the secret. */
  createCode(principal: Principal): { code: string; expiresAt: number } {
    this.load();
    this.sweep();
    const code = randomBytes(16).toString('base64url');
    const expiresAt = this.now() + CODE_TTL_MS;
    this.codes.set(hashOf(code), { tokenId: principal.id, expiresAt });
    this.save();
    return { code, expiresAt };
  }

  /** Uses up a code: a new session, or null when it is unknown, used or expired. */
  exchangeCode(code: string): { session: string; info: SessionInfo } | null {
    this.load();
    const key = hashOf(code);
    const grant = this.codes.get(key);
    this.codes.delete(key);
    if (grant) this.save();
    if (!grant || grant.expiresAt <= this.now()) return null;
    const principal = this.principalOf(grant.tokenId);
    return principal ? this.createSession(principal) : null;
  }

  /** A new session acting as `principal` (a verified token). */
  createSession(principal: Principal): { session: string; info: SessionInfo } {
    this.load();
    this.sweep();
    const session = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + SESSION_TTL_MS;
    this.sessions.set(hashOf(session), { tokenId: principal.id, expiresAt });
    this.save();
    return { session, info: { principal, expiresAt } };
  }

  /** The session's principal (roles as the token file has them now), or null. */
  verify(session: string): SessionInfo | null {
    this.load();
    const grant = this.sessions.get(hashOf(session));
    if (!grant) return null;
    if (grant.expiresAt <= this.now()) {
      this.sessions.delete(hashOf(session));
      return null;
    }
    const principal = this.principalOf(grant.tokenId);
    return principal ? { principal, expiresAt: grant.expiresAt } : null;
  }

  revoke(session: string): void {
    this.load();
    if (this.sessions.delete(hashOf(session))) this.save();
  }

  /** Re-reads the shared file when another process changed it since. */
  private load(): void {
    if (!this.file) return;
    let version: string;
    try {
      const stat = statSync(this.file);
      version = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    } catch {
      version = 'none';
    }
    if (version === this.loaded) return;
    this.loaded = version;
    let parsed: Partial<SessionFile> = {};
    try {
      parsed = JSON.parse(readFileOrNull(this.file) ?? '{}') as Partial<SessionFile>;
    } catch {
      // unreadable: everyone signs in again
    }
    this.codes = new Map(Object.entries(parsed.codes ?? {}));
    this.sessions = new Map(Object.entries(parsed.sessions ?? {}));
  }

  private save(): void {
    if (!this.file) return;
    const data: SessionFile = {
      codes: Object.fromEntries(this.codes),
      sessions: Object.fromEntries(this.sessions),
    };
    writeFileAtomic(this.file, `${JSON.stringify(data)}\n`, 0o600);
    try {
      const stat = statSync(this.file);
      this.loaded = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    } catch {
      this.loaded = '';
    }
  }

  private principalOf(tokenId: string): Principal | null {
    const record = this.tokens.list().find((token) => token.id === tokenId);
    return record ? { id: record.id, name: record.name, roles: record.roles } : null;
  }

  private sweep(): void {
    const now = this.now();
    for (const map of [this.codes, this.sessions]) {
      for (const [key, grant] of map) if (grant.expiresAt <= now) map.delete(key);
    }
  }
}

/**
 * The cookie's name, per port: browsers share cookies between the ports of one host, and two
 * control planes on one machine must not overwrite each other's session.
 */
export function sessionCookieName(request: FastifyRequest): string {
  const port = /:(\d+)$/.exec(request.headers.host ?? '')?.[1] ?? '80';
  return `berth_session_${port}`;
}

/** The session cookie's value, or null. */
export function sessionCookie(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return null;
  const name = sessionCookieName(request);
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim() || null;
  }
  return null;
}

/** The Set-Cookie value that stores `session` (or, with null, removes it). */
export function sessionSetCookie(request: FastifyRequest, session: string | null): string {
  const value = session ?? '';
  const maxAge = session ? Math.floor(SESSION_TTL_MS / 1000) : 0;
  return `${sessionCookieName(request)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
}

const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/**
 * Throws 403 unless a request that may change something carries the CSRF header and, when the
 * browser names its origin, comes from the API's own origin.
 */
export function requireCsrf(request: FastifyRequest): void {
  if (SAFE_METHODS.includes(request.method)) return;
  const hint = 'the dashboard sends it; a script calling the API should use a bearer token instead';
  if (request.headers[CSRF_HEADER] !== '1') {
    throw new HttpError(
      403,
      'csrf',
      `a change made with a session cookie needs the header ${CSRF_HEADER}: 1`,
      {
        hint,
        exitCode: 3,
      },
    );
  }
  const origin = request.headers.origin;
  if (typeof origin === 'string') {
    const host = (request.headers.host ?? '').toLowerCase();
    if (origin.toLowerCase() !== `http://${host}` && origin.toLowerCase() !== `https://${host}`) {
      throw new HttpError(403, 'csrf', `a change from the origin ${origin} is refused`, {
        hint,
        exitCode: 3,
      });
    }
  }
}
