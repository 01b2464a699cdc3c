import type { CommandSpec } from '../registry.js';
import { ApiClient, directCommandLine } from '../api-client.js';
import { apiTarget } from '../backend.js';
import { printJson } from '../output.js';
import { UserError } from '../../core/errors.js';

/**
 * Prints a link that signs this machine's user into the dashboard: the running control plane
 * mints a one-time code (valid once, for 2 minutes) for the caller's token; the code travels in
 * the URL fragment, which the browser never sends to the server. Opens nothing.
 */
export const dashboardCommand: CommandSpec = {
  name: 'dashboard',
  summary: 'print a one-time sign-in link to the dashboard of the running control plane',
  help: [
    'The link works once, within 2 minutes; the page then holds a session cookie (12 h).',
    'Needs a control plane (berth up) and an admin token (the local one by default, or --token).',
    'Example:\n  berth dashboard --env production',
  ].join('\n'),
  async run({ globals, io }) {
    if (globals.direct) {
      throw new UserError('the dashboard is served by the control plane; --direct has none', {
        hint: 'start it with `berth up`',
      });
    }
    const target = apiTarget(globals);
    if (!target) {
      throw new UserError('no control plane is set up in this data dir', {
        hint: 'start one with `berth up` (it prints a sign-in link too)',
      });
    }
    const client = new ApiClient({
      url: target.url,
      token: target.token,
      directCommand: directCommandLine(),
    });
    const minted = await client.request<{ code: string; expiresAt: string }>(
      'POST',
      '/v1/session/codes',
      globals.env ? { env: globals.env } : {},
    );
    const link = `${client.url}/#code=${minted.code}${globals.env ? `&env=${encodeURIComponent(globals.env)}` : ''}`;
    if (globals.json) return printJson(io, { link, expiresAt: minted.expiresAt });
    io.out(link);
    io.err(
      `open it within 2 minutes (until ${minted.expiresAt}); it signs in once and is useless after that`,
    );
  },
};
