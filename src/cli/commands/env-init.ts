import type { CommandSpec } from '../registry.js';
import { loadConfig } from '../environment.js';
import { printJson } from '../output.js';
import { envColor } from '../render/banner.js';
import { resolveEnvironment } from '../../spec/index.js';
import { UserError } from '../../core/errors.js';
import type { BootstrapStep } from '../../providers/aws/bootstrap.js';

/** `berth env init <env>`: create the shared pieces an AWS environment needs, idempotently. */
export const envInitCommand: CommandSpec = {
  name: 'init <env>',
  summary: "create an environment's missing shared pieces (AWS: cluster, ALB and listener, state table)",
  help: 'Safe to run again: it reports what it found and creates only what is missing.',
  async run({ args, globals, io }) {
    const env = resolveEnvironment(await loadConfig(globals), args[0]);
    if (env.provider !== 'aws') {
      throw new UserError(`environment ${env.name} uses the ${env.provider} provider, which needs no init`, {
        hint: 'env init is for provider: aws environments',
      });
    }
    io.err(`${envColor(io, env)(env.name)}: looking for the shared pieces in account ${env.aws?.accountId}`);
    const mark = (step: BootstrapStep) =>
      step.outcome === 'created'
        ? io.color.green('created')
        : step.outcome === 'found'
          ? io.color.dim('found  ')
          : io.color.yellow('missing');
    // Loaded here, not at the top: `berth env ls` must not pay for the AWS SDK.
    const { bootstrapAwsEnvironment } = await import('../../providers/aws/bootstrap.js');
    const report = await bootstrapAwsEnvironment(env, {
      onStep: (step) => io.err(`  ${mark(step)} ${step.piece}: ${step.detail}`),
    });
    if (globals.json) return printJson(io, report);
    const made = report.steps.filter((step) => step.outcome === 'created').length;
    io.out(`${env.name}: ${made ? `created ${made} piece(s)` : 'everything was already there'}`);
    io.out('settings berth found (pin them under aws: in berth.config.yaml if you like):');
    for (const [key, value] of Object.entries(report.settings)) io.out(`  ${key}: ${JSON.stringify(value)}`);
    io.out(`next: berth deploy PATH --env ${env.name}`);
  },
};
