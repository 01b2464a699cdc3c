/**
 * What a replica process gets from the runtime: an environment built from scratch (never the
 * runtime's own, which may hold BERTH_TOKEN, AWS credentials or anything else its starter had),
 * and, when the runtime runs as root and is told to, an unprivileged user of its own.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../core/errors.js';

/** The user replicas run as, resolved once when the runtime starts. */
export interface ReplicaUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Variables a program needs to behave normally; everything else the runtime has stays with it. */
const PASSED_THROUGH = ['PATH', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR'];
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The environment of one replica: the few variables above (LC_* too), HOME, the spec's `env`,
 * its resolved secrets, then PORT and berth's replica markers, which nothing may override.
 */
export function replicaEnvironment(input: {
  parent: NodeJS.ProcessEnv;
  user: ReplicaUser | null;
  env: Record<string, string>;
  secrets?: Record<string, string>;
  port: number;
  index: number;
  service: string;
}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(input.parent)) {
    if (value !== undefined && (PASSED_THROUGH.includes(key) || key.startsWith('LC_'))) out[key] = value;
  }
  out.PATH ??= DEFAULT_PATH;
  // A replica running as another user gets that user's home, never the runtime's.
  const home = input.user ? input.user.home : input.parent.HOME;
  if (home) out.HOME = home;
  Object.assign(out, input.env, input.secrets ?? {}, {
    PORT: String(input.port),
    BERTH_REPLICA: String(input.index),
    BERTH_SERVICE: input.service,
  });
  return out;
}

/**
 * The account named `name` (or a numeric uid) from /etc/passwd. Running replicas as another user
 * needs root; a runtime that is not root refuses the option instead of silently ignoring it.
 */
export function resolveReplicaUser(name: string, passwd = '/etc/passwd'): ReplicaUser {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    throw new UserError(`the local runtime cannot run replicas as "${name}": that needs root`, {
      hint: 'start the runtime as root, or leave out --replica-user / $BERTH_REPLICA_USER (replicas then run as you, and changing `run` through the API needs admin)',
    });
  }
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read ${passwd} to find the replica user "${name}"`, { cause: error });
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === undefined || uid === undefined || gid === undefined) continue;
    if (user === name || uid === name) {
      const account = { name: user, uid: Number(uid), gid: Number(gid), home: home || '/' };
      if (account.uid === 0) {
        throw new UserError(`the replica user "${name}" is root: it would isolate nothing`, {
          hint: 'name an unprivileged user, e.g. nobody or a dedicated berth-replica account',
        });
      }
      return account;
    }
  }
  throw new UserError(`the replica user "${name}" does not exist on this machine`, {
    hint: 'create it (e.g. `useradd --system --no-create-home berth-replica`) or name another, e.g. nobody',
  });
}
