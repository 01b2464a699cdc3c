/**
 * API tokens: random bearer tokens with a role per environment, stored only as SHA-256 hashes in
 * `<data dir>/tokens.json` (mode 0600). A token is shown once, when it is created.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { ConflictError, UserError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { readFileOrNull, writeFileAtomic } from '../runtime/files.js';
import { apiPaths } from './paths.js';

export const ROLES = ['viewer', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a route needs: read (viewer), change services (deployer), manage the control plane (admin). */
export type Access = 'read' | 'deploy' | 'admin';

const RANK: Record<Role, number> = { viewer: 1, deployer: 2, admin: 3 };
const NEEDED: Record<Access, number> = { read: 1, deploy: 2, admin: 3 };

/** The environment name that stands for every environment in a token's roles. */
export const ANY_ENV = '*';

export interface TokenRecord {
  id: string;
  /** The actor recorded in the audit trail. */
  name: string;
  /** SHA-256 (hex) of the token. */
  hash: string;
  /** Role per environment name; '*' covers every environment not named. */
  roles: Record<string, Role>;
  createdAt: string;
}

/** Who is calling: a verified token, without its hash. */
export interface Principal {
  id: string;
  name: string;
  roles: Record<string, Role>;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** The token's role in an environment, or null when it has none there. */
export function roleIn(principal: Principal, env: string): Role | null {
  return (Object.hasOwn(principal.roles, env) ? principal.roles[env] : principal.roles[ANY_ENV]) ?? null;
}

export function allows(role: Role | null, access: Access): boolean {
  return role !== null && RANK[role] >= NEEDED[access];
}

const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

interface TokenFileShape {
  tokens: TokenRecord[];
}

/** The token file, re-read when it changes on disk (so `berth token create` needs no restart). */
export class TokenStore {
  private cache: { mtimeMs: number; size: number; records: TokenRecord[] } | null = null;

  constructor(readonly path: string) {}

  static forDataDir(dataDir: string): TokenStore {
    return new TokenStore(apiPaths(dataDir).tokens);
  }

  list(): TokenRecord[] {
    let stat;
    try {
      stat = statSync(this.path);
    } catch {
      return [];
    }
    if (this.cache && this.cache.mtimeMs === stat.mtimeMs && this.cache.size === stat.size) {
      return this.cache.records;
    }
    const text = readFileOrNull(this.path) ?? '{"tokens":[]}';
    let parsed: TokenFileShape;
    try {
      parsed = JSON.parse(text) as TokenFileShape;
    } catch (error) {
      throw new UserError(`the token file ${this.path} is not valid JSON`, {
        cause: error,
        hint: 'restore it, or remove it and create tokens again with `berth token create`',
      });
    }
    const records = Array.isArray(parsed.tokens) ? parsed.tokens : [];
    this.cache = { mtimeMs: stat.mtimeMs, size: stat.size, records };
    return records;
  }

  /** Creates a token; the returned `token` is the only copy of the secret. */
  create(input: { name: string; roles: Record<string, Role> }): { token: string; record: TokenRecord } {
    const records = this.list();
    if (records.some((record) => record.name === input.name)) {
      throw new ConflictError(`a token named "${input.name}" exists already`, {
        hint: 'choose another --name (the name is the actor in the audit trail)',
      });
    }
    const token = `berth_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = {
      id: newId('tok'),
      name: input.name,
      hash: hashOf(token).toString('hex'),
      roles: { ...input.roles },
      createdAt: new Date().toISOString(),
    };
    this.write([...records, record]);
    return { token, record };
  }

  /** Removes tokens by name; returns how many were removed. */
  remove(name: string): number {
    const records = this.list();
    const kept = records.filter((record) => record.name !== name);
    if (kept.length !== records.length) this.write(kept);
    return records.length - kept.length;
  }

  /** The principal a bearer token belongs to, or null. Compares every stored hash in constant time. */
  verify(token: string): Principal | null {
    const presented = hashOf(token);
    let found: TokenRecord | null = null;
    for (const record of this.list()) {
      const stored = Buffer.from(record.hash, 'hex');
      if (stored.length === presented.length && timingSafeEqual(stored, presented)) found = record;
    }
    return found ? { id: found.id, name: found.name, roles: found.roles } : null;
  }

  private write(records: TokenRecord[]): void {
    writeFileAtomic(this.path, `${JSON.stringify({ tokens: records }, null, 2)}\n`, 0o600);
    this.cache = null;
  }
}

/** The token name of the admin token `berth up` creates for the CLI on this machine. */
export const LOCAL_ADMIN_NAME = 'local-admin';

/**
 * The admin token the CLI on this machine uses by itself: `<data dir>/api-token` (0600), created
 * (with an admin role in every environment) when missing or no longer valid.
 */
export function ensureLocalAdminToken(dataDir: string, tokens = TokenStore.forDataDir(dataDir)): string {
  const path = apiPaths(dataDir).localToken;
  const existing = readFileOrNull(path)?.trim();
  if (existing && tokens.verify(existing)) return existing;
  tokens.remove(LOCAL_ADMIN_NAME);
  const { token } = tokens.create({ name: LOCAL_ADMIN_NAME, roles: { [ANY_ENV]: 'admin' } });
  writeFileAtomic(path, `${token}\n`, 0o600);
  return token;
}

/** The local admin token, when `berth up` made one. */
export function readLocalToken(dataDir: string): string | null {
  return readFileOrNull(apiPaths(dataDir).localToken)?.trim() || null;
}
