import { randomBytes } from 'node:crypto';
import type { CommandSpec } from '../registry.js';
import { loadConfig } from '../environment.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { UserError } from '../../core/errors.js';
import { ANY_ENV, isRole, ROLES, TokenStore, type Role } from '../../api/tokens.js';

const create: CommandSpec = {
  name: 'create',
  summary: 'create an API token with a role in some environments; prints it once on stdout',
  options: [
    { flags: '--role <role>', description: 'viewer, deployer or admin', choices: [...ROLES] },
    { flags: '--name <name>', description: 'who uses it: the actor in the audit trail' },
  ],
  help: [
    'The environments come from --env: one name, a comma-separated list, or "*" for all.',
    'Examples:',
    '  berth token create --role deployer --env staging --name ci-staging',
    "  berth token create --role viewer --env '*' --name dashboard",
  ].join('\n'),
  async run({ options, globals, io }) {
    const role = options.role;
    if (!isRole(role)) {
      throw new UserError('--role is required', { hint: `one of: ${ROLES.join(', ')}` });
    }
    if (!globals.env) {
      throw new UserError('--env is required', {
        hint: "an environment, a comma-separated list, or '*' for every environment",
      });
    }
    const config = await loadConfig(globals);
    const envs = globals.env
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    for (const env of envs) {
      if (env !== ANY_ENV && !Object.hasOwn(config.environments, env)) {
        throw new UserError(`unknown environment "${env}"`, {
          hint: `environments: ${Object.keys(config.environments).join(', ')} (or '*')`,
        });
      }
    }
    const name =
      (options.name as string | undefined) ??
      `${role}-${envs.join('-').replace('*', 'all')}-${randomBytes(2).toString('hex')}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) {
      throw new UserError(`--name "${name}" must be 1-64 of letters, digits, ".", "_", "@" and "-"`);
    }
    const roles: Record<string, Role> = Object.fromEntries(envs.map((env) => [env, role]));
    const { token, record } = TokenStore.forDataDir(globals.dataDir).create({ name, roles });
    if (globals.json) return printJson(io, { token, name: record.name, roles: record.roles });
    io.out(token);
    io.err(
      `created token "${record.name}": ${role} in ${envs.join(', ')}. It is shown only this once; ` +
        'use it with --token or $BERTH_TOKEN.',
    );
  },
};

const ls: CommandSpec = {
  name: 'ls',
  summary: 'the tokens: names and roles (the secrets are stored only as hashes)',
  async run({ globals, io }) {
    const records = TokenStore.forDataDir(globals.dataDir)
      .list()
      .map(({ hash: _hash, ...record }) => record);
    if (globals.json) return printJson(io, records);
    if (records.length === 0) return io.out('no tokens (berth up creates the local admin token)');
    io.out(
      renderTable(
        ['NAME', 'ROLES', 'CREATED'],
        records.map((r) => [
          r.name,
          Object.entries(r.roles)
            .map(([env, role]) => `${env}=${role}`)
            .join(' '),
          r.createdAt,
        ]),
        { width: io.width },
      ),
    );
  },
};

const revoke: CommandSpec = {
  name: 'revoke <name>',
  summary: 'remove a token by name (the API refuses it from the next request on)',
  async run({ args, globals, io }) {
    const removed = TokenStore.forDataDir(globals.dataDir).remove(args[0]!);
    if (!removed) throw new UserError(`there is no token named "${args[0]}"`, { hint: 'see berth token ls' });
    io.err(`revoked token "${args[0]}"`);
  },
};

export const tokenCommand: CommandSpec = {
  name: 'token',
  summary: 'API tokens of the control plane in this data dir (role per environment)',
  subcommands: [create, ls, revoke],
};
