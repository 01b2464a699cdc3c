/**
 * `berth secret set|ls|rm --env E`: the values behind `secrets:` in berth.yaml. A value is read
 * from stdin or a hidden prompt, never from the command line (argv is visible to every user of
 * the machine in `ps` and lands in shell history); `ls` shows names and times, never values.
 * These act on the environment's secret store directly (the local runtime's store in the data
 * dir; SSM Parameter Store on AWS), never through the API, so values never cross it.
 */
import type { CommandSpec } from '../registry.js';
import { chooseEnvironment, loadConfig } from '../environment.js';
import type { GlobalOptions } from '../globals.js';
import { Interrupted, type Io } from '../io.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { UserError } from '../../core/errors.js';
import { SECRET_NAME_PATTERN } from '../../spec/service-schema.js';
import type { EnvironmentConfig } from '../../spec/types.js';

/** What the commands need of a store; values go in, never come out. */
export interface SecretBackend {
  /** Where the values live, for messages: "the local secret store", "SSM Parameter Store (eu-west-1)". */
  describe: string;
  list(): Promise<{ name: string; updatedAt: string | null }[]>;
  set(name: string, value: string): Promise<void>;
  /** False when it did not exist. */
  remove(name: string): Promise<boolean>;
}

async function backendFor(env: EnvironmentConfig, dataDir: string): Promise<SecretBackend> {
  if (env.provider === 'aws') {
    const { ssmSecretBackend } = await import('../../providers/aws/secrets.js');
    return ssmSecretBackend(env);
  }
  const { LocalSecretStore } = await import('../../runtime/secret-store.js');
  const store = LocalSecretStore.forDataDir(dataDir);
  return {
    describe: `the local secret store of ${env.name}`,
    list: async () => store.list(env.name),
    set: async (name, value) => store.set(env.name, name, value),
    remove: async (name) => store.remove(env.name, name),
  };
}

function checkName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new UserError(`"${name}" is not a valid secret name`, {
      hint: 'use letters, digits and _ . - / : + = @, e.g. db-url',
    });
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line at the terminal without echoing it; Ctrl-C rejects with Interrupted. */
function askHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (error: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003') return done(new Interrupted());
        if (char === '\r' || char === '\n' || char === '\u0004') return done(null);
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on('data', onData);
  });
}

/** The value: piped on stdin (one trailing newline dropped), else typed at a hidden prompt. */
async function readValue(io: Io, name: string): Promise<string> {
  const value = process.stdin.isTTY
    ? await askHidden(`value for ${name} (not shown): `)
    : (await readAll(process.stdin)).replace(/\r?\n$/, '');
  if (value.length === 0) {
    throw new UserError(`no value given for ${name}`, {
      hint: `pipe it in (e.g. \`berth secret set ${name} --env E < file\`) or type it at the prompt`,
    });
  }
  if (value.includes('\0')) throw new UserError('a secret value cannot contain a NUL character');
  void io;
  return value;
}

async function open(globals: GlobalOptions, mutating: boolean) {
  const config = await loadConfig(globals);
  const env = chooseEnvironment(config, globals, mutating);
  return { env, backend: await backendFor(env, globals.dataDir) };
}

/** Who set or removed which secret, in the environment's audit trail: the name, never the value. */
async function audit(
  globals: GlobalOptions,
  env: EnvironmentConfig,
  action: string,
  name: string,
  result: string,
) {
  const [{ openStateStore }, { directActor }] = await Promise.all([
    import('../../state/index.js'),
    import('../../engine/guard.js'),
  ]);
  const store = await openStateStore(env, globals.dataDir);
  try {
    const actor = directActor();
    await store.appendAudit({
      actor: actor.name,
      interface: actor.interface,
      env: env.name,
      identity: null,
      action,
      args: { secret: name },
      result,
    });
  } finally {
    await store.close();
  }
}

const set: CommandSpec = {
  name: 'set <name>',
  summary: 'set a secret: the value is read from stdin or a hidden prompt, never from the command line',
  help: [
    'Examples:',
    '  berth secret set db-url --env staging              # asks for the value, without echo',
    '  printf %s "$DB_URL" | berth secret set db-url --env staging',
    'Then in berth.yaml:  secrets: { DATABASE_URL: db-url }',
    'Replicas read secrets when they start: a changed value reaches a service at its next deploy or restart.',
  ].join('\n'),
  async run({ args, globals, io }) {
    const name = args[0]!;
    checkName(name);
    const { env, backend } = await open(globals, true);
    const value = await readValue(io, name);
    await backend.set(name, value);
    await audit(globals, env, 'secret set', name, 'succeeded');
    io.err(`set secret ${name} in ${backend.describe} (${env.name})`);
  },
};

const ls: CommandSpec = {
  name: 'ls',
  summary: "the environment's secrets: names and when they were set, never values",
  async run({ globals, io }) {
    const { env, backend } = await open(globals, false);
    const secrets = await backend.list();
    if (globals.json) return printJson(io, secrets);
    if (secrets.length === 0) return io.err(`no secrets in ${backend.describe} (${env.name})`);
    io.out(
      renderTable(
        ['NAME', 'UPDATED'],
        secrets.map((s) => [s.name, s.updatedAt ?? '-']),
      ),
    );
  },
};

const rm: CommandSpec = {
  name: 'rm <name>',
  summary: 'remove a secret (services that use it keep running; their next start fails until it is set)',
  async run({ args, globals, io }) {
    const name = args[0]!;
    checkName(name);
    const { env, backend } = await open(globals, true);
    const removed = await backend.remove(name);
    await audit(globals, env, 'secret rm', name, removed ? 'succeeded' : 'failed: no such secret');
    if (!removed) {
      throw new UserError(`there is no secret named "${name}" in ${env.name}`, {
        hint: `see berth secret ls --env ${env.name}`,
      });
    }
    io.err(`removed secret ${name} from ${backend.describe} (${env.name})`);
  },
};

export const secretCommand: CommandSpec = {
  name: 'secret',
  summary: 'values for `secrets:` in berth.yaml (set reads stdin or a hidden prompt; ls never shows values)',
  subcommands: [set, ls, rm],
};
