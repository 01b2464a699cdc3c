import type { CommandSpec } from '../registry.js';
import { selectBackend } from '../backend.js';
import { printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { resolveEnvironment } from '../../spec/index.js';
import { envColor } from '../render/banner.js';
import { envInitCommand } from './env-init.js';
import { errorMessage } from '../../core/errors.js';
import type { QuotaUse } from '../../providers/aws/quotas.js';

export const envCommand: CommandSpec = {
  name: 'env',
  summary: 'the environments in berth.config.yaml',
  subcommands: [
    {
      name: 'ls',
      summary: 'list environments',
      async run({ globals, io }) {
        const config = await selectBackend(globals).envs();
        const envs = Object.values(config.environments);
        if (globals.json) return printJson(io, envs);
        io.out(
          renderTable(
            ['ENV', 'PROVIDER', 'PROTECTED', 'DRIFT', 'IDENTITY'],
            envs.map((e) => [
              envColor(io, e)(e.name),
              e.provider,
              e.protected ? 'PROTECTED' : 'no',
              e.drift,
              e.identity ?? null,
            ]),
            { width: io.width },
          ),
        );
      },
    },
    {
      name: 'show <env>',
      summary: "an environment's settings",
      async run({ args, globals, io }) {
        const env = resolveEnvironment(await selectBackend(globals).envs(), args[0]);
        // AWS: how much of each quota the environment uses, read from AWS with these credentials.
        let quotas: QuotaUse[] | null = null;
        if (env.provider === 'aws') {
          // Loaded here, not at the top: `berth env ls` must not pay for the AWS SDK.
          const { awsQuotaUse } = await import('../../providers/aws/quotas.js');
          quotas = await awsQuotaUse(env).catch((error: unknown) => {
            io.err(`quota use unavailable: ${errorMessage(error)}`);
            return null;
          });
        }
        if (globals.json) return printJson(io, quotas ? { ...env, quotas } : env);
        io.out(`${envColor(io, env)(env.name)}${env.protected ? '  PROTECTED' : ''}`);
        for (const [key, value] of Object.entries(env)) {
          if (key !== 'name')
            io.out(`  ${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
        }
        if (quotas) {
          io.out('quota use:');
          io.out(
            renderTable(
              ['QUOTA', 'FOR', 'USED', 'LIMIT', 'RAISE'],
              quotas.map((q) => [
                q.quota,
                q.scope,
                q.used,
                q.berthStopsAt !== undefined ? `${q.limit} (berth fills to ${q.berthStopsAt})` : q.limit,
                q.adjustable ? 'Service Quotas' : 'fixed',
              ]),
            ),
          );
        }
      },
    },
    envInitCommand,
  ],
};
