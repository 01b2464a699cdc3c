import type { CommandSpec } from '../registry.js';
import { UserError } from '../../core/errors.js';
import { ApiClient } from '../api-client.js';
import { checkContextName, normalizeApiUrl, saveContext } from '../contexts.js';
import { printJson } from '../output.js';

export const loginCommand: CommandSpec = {
  name: 'login <url>',
  summary: "save a control plane (its service's URL and a token) as a context and make it current",
  options: [{ flags: '--name <name>', description: "the context's name (default: the URL's host name)" }],
  help: [
    'The token comes from --token or $BERTH_TOKEN; it is checked against the API, then kept in',
    "<data dir>/contexts.json (mode 0600). Give the control plane service's stable URL (its hostname",
    "through the load balancer or the local proxy), not one replica's port.",
    'Examples:',
    '  berth login https://berth.example.com --token "$TOKEN"',
    '  berth login http://berth.production.localhost:4080 --token "$TOKEN" --name production',
    'Then: berth context ls | berth context use NAME',
  ].join('\n'),
  async run({ args, options, globals, io }) {
    const url = normalizeApiUrl(args[0]!);
    const token = globals.token ?? process.env.BERTH_TOKEN;
    if (!token) {
      throw new UserError('a token is needed to log in', {
        hint: `berth login ${url} --token T (an admin makes one with: berth token create --role deployer --env E --name YOU)`,
      });
    }
    const name = checkContextName((options.name as string | undefined) ?? new URL(url).hostname);
    const client = new ApiClient({ url, token, directCommand: 'berth … --direct' });
    const who = await client
      .get<{ actor: string; roles: Record<string, string> }>('/v1/whoami')
      .catch((error) => {
        if (error instanceof UserError && error.code === 'invalid_token') {
          throw new UserError(`the API at ${url} does not accept this token`, {
            code: 'unauthorized',
            exitCode: 2,
            hint: 'check the token (it is shown once, when `berth token create` makes it)',
          });
        }
        throw error;
      });
    saveContext(globals.dataDir, { name, url, token });
    if (globals.json) return printJson(io, { context: name, url, actor: who.actor, roles: who.roles });
    const roles = Object.entries(who.roles).map(
      ([env, role]) => `${role} in ${env === '*' ? 'every environment' : env}`,
    );
    io.out(
      `logged in to ${url} as ${who.actor} (${roles.join(', ') || 'no role'}); context "${name}" is current`,
    );
    io.err(io.color.dim('next: berth ls --env ENV   (berth context ls lists your contexts)'));
  },
};
