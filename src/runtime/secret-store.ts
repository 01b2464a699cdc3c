/**
 * The local runtime's secret store, its stand-in for SSM Parameter Store: named values per scope
 * (berth uses one scope per environment), in `<data dir>/secrets/<scope>.json`, mode 0600 in a
 * 0700 folder. `berth secret set|ls|rm` writes it; the runtime reads it when a replica starts,
 * as ECS reads a task's secrets when the task starts. Nothing else ever reads a value.
 */
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from './files.js';

/** A scope (an environment's name) as a file name: the same rule as environment names. */
const SCOPE_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

interface StoredSecret {
  value: string;
  updatedAt: string;
}

interface SecretFile {
  version: 1;
  secrets: Record<string, StoredSecret>;
}

/** What `ls` shows: never a value. */
export interface SecretListing {
  name: string;
  updatedAt: string;
}

/** A reference from a runtime service to one secret. */
export interface SecretRef {
  scope: string;
  name: string;
}

export function secretsDir(dataDir: string): string {
  return join(dataDir, 'secrets');
}

export class LocalSecretStore {
  constructor(private readonly dir: string) {}

  static forDataDir(dataDir: string): LocalSecretStore {
    return new LocalSecretStore(secretsDir(dataDir));
  }

  private file(scope: string): string {
    if (!SCOPE_PATTERN.test(scope)) throw new UserError(`"${scope}" is not a valid secret scope`);
    return join(this.dir, `${scope}.json`);
  }

  private read(scope: string): SecretFile {
    const path = this.file(scope);
    const raw = readFileOrNull(path);
    if (raw === null) return { version: 1, secrets: {} };
    try {
      const parsed = JSON.parse(raw) as SecretFile;
      return { version: 1, secrets: Object.assign(Object.create(null), parsed.secrets ?? {}) };
    } catch (error) {
      throw new UserError(`the secret store ${path} is unreadable`, { cause: error });
    }
  }

  private write(scope: string, content: SecretFile): void {
    writeFileAtomic(this.file(scope), `${JSON.stringify(content, null, 2)}\n`, 0o600);
  }

  list(scope: string): SecretListing[] {
    return Object.entries(this.read(scope).secrets)
      .map(([name, secret]) => ({ name, updatedAt: secret.updatedAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(scope: string, name: string): string | null {
    const secrets = this.read(scope).secrets;
    return Object.hasOwn(secrets, name) ? secrets[name]!.value : null;
  }

  has(scope: string, name: string): boolean {
    return this.get(scope, name) !== null;
  }

  set(scope: string, name: string, value: string): void {
    const content = this.read(scope);
    content.secrets[name] = { value, updatedAt: new Date().toISOString() };
    this.write(scope, content);
  }

  /** False when it did not exist. */
  remove(scope: string, name: string): boolean {
    const content = this.read(scope);
    if (!Object.hasOwn(content.secrets, name)) return false;
    delete content.secrets[name];
    this.write(scope, content);
    return true;
  }

  /** The values of `refs` (variable -> ref), or the variables whose secret is not set. */
  resolve(refs: Record<string, SecretRef>): { values: Record<string, string>; missing: string[] } {
    const values: Record<string, string> = {};
    const missing: string[] = [];
    for (const [variable, ref] of Object.entries(refs)) {
      const value = this.get(ref.scope, ref.name);
      if (value === null) missing.push(`${variable} (secret "${ref.name}" in ${ref.scope})`);
      else values[variable] = value;
    }
    return { values, missing };
  }
}
