/**
 * `berth secret set|ls|rm --env E`: the values behind `secrets:` in berth.yaml. A value is read
 * from stdin or a hidden prompt, never from the command line (argv is visible to every user of
 * the machine in `ps` and lands in shell history); `ls` shows names and times, never values.
 * Through the API when the CLI talks to one (setting and removing need admin there), else on the
 * environment's store directly (the local runtime's store in the data dir; SSM Parameter Store on
 * AWS). Either way each change is audited with the name, never the value.
 */
import type { CommandSpec } from '../registry.js';
import { withBackend } from '../backend.js';
import { Interrupted } from '../io.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { checkSecretName, checkSecretValue } from '../../engine/secrets.js';

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
async function readValue(name: string): Promise<string> {
  const value = process.stdin.isTTY
    ? await askHidden(`value for ${name} (not shown): `)
    : (await readAll(process.stdin)).replace(/\r?\n$/, '');
  checkSecretValue(name, value);
  return value;
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
    'Through the API this needs an admin token.',
  ].join('\n'),
  async run({ args, globals, io }) {
    const name = args[0]!;
    checkSecretName(name);
    // The environment (and its banner) first, so that nobody types a value for the wrong one.
    return withBackend(globals, io, { mutating: true }, async (session) => {
      const value = await readValue(name);
      const store = await (await session.secrets()).set(name, value);
      io.err(`set secret ${name} in ${store} (${session.env.name})`);
    });
  },
};

const ls: CommandSpec = {
  name: 'ls',
  summary: "the environment's secrets: names and when they were set, never values",
  async run({ globals, io }) {
    return withBackend(globals, io, { mutating: false, banner: false }, async (session) => {
      const secrets = await (await session.secrets()).list();
      if (globals.json) return printJson(io, secrets);
      if (secrets.length === 0) return io.err(`no secrets in ${session.env.name}`);
      io.out(
        renderTable(
          ['NAME', 'UPDATED'],
          secrets.map((s) => [s.name, s.updatedAt ?? '-']),
        ),
      );
    });
  },
};

const rm: CommandSpec = {
  name: 'rm <name>',
  summary: 'remove a secret (services that use it keep running; their next start fails until it is set)',
  async run({ args, globals, io }) {
    const name = args[0]!;
    checkSecretName(name);
    return withBackend(globals, io, { mutating: true }, async (session) => {
      const store = await (await session.secrets()).remove(name);
      io.err(`removed secret ${name} from ${store} (${session.env.name})`);
    });
  },
};

export const secretCommand: CommandSpec = {
  name: 'secret',
  summary: 'values for `secrets:` in berth.yaml (set reads stdin or a hidden prompt; ls never shows values)',
  subcommands: [set, ls, rm],
};
