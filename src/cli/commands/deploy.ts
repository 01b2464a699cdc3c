import type { CommandSpec } from '../registry.js';
import { auditCliRefusal, chooseEnvironment } from '../environment.js';
import { isRefusal } from '../../engine/guard.js';
import type { EnvironmentConfig } from '../../spec/types.js';
import { selectBackend, withBackend } from '../backend.js';
import { readSpec } from '../spec-input.js';
import { progressRenderer } from '../render/progress.js';
import { printJson } from '../output.js';
import { parseSeconds } from '../parse.js';
import { askConfirmation } from '../confirm.js';
import { describeRemovals } from '../../engine/delete-steps.js';

export const deployCommand: CommandSpec = {
  name: 'deploy [path]',
  summary: 'apply berth.yaml (PATH: a directory or file, default .) and show each step live',
  options: [
    { flags: '--no-rollback', description: 'keep a version that fails to become healthy, for inspection' },
    {
      flags: '--health-timeout <seconds>',
      description: 'how long new replicas may take to become healthy',
      defaultValue: '60',
    },
    {
      flags: '--confirm <env>',
      description: 'the environment name, to scale to 0 in a protected environment',
    },
  ],
  help: 'Examples:\n  berth deploy examples/hello --env local\n  berth deploy . --env staging --no-rollback',
  async run({ args, options, globals, io }) {
    const backend = selectBackend(globals);
    const config = await backend.envs();
    let env: EnvironmentConfig;
    try {
      env = chooseEnvironment(config, globals, true);
    } catch (error) {
      // refused before anything ran (a protected environment not named): audited all the same
      if (backend.mode === 'direct' && isRefusal(error)) await auditCliRefusal(config, globals, true, error);
      throw error;
    }
    const spec = await readSpec(args[0], env, config, io);
    const healthDeadlineMs = parseSeconds(options.healthTimeout, '--health-timeout') * 1000;
    return withBackend(globals, io, { mutating: true, config, backend }, async (session) => {
      const confirm =
        spec.replicas === 0
          ? await askConfirmation(env, options.confirm, io, `scale ${spec.name} to 0`)
          : undefined;
      const outcome = await session.deploy(
        spec,
        { noRollback: options.rollback === false, healthDeadlineMs, confirm },
        progressRenderer(io),
      );
      const { operation, rollback } = outcome;
      const ok = operation.status === 'succeeded';
      if (globals.json) {
        printJson(io, {
          service: spec.name,
          env: env.name,
          status: operation.status,
          operation,
          rollback,
          urls: outcome.urls,
        });
      } else if (ok) {
        io.out(`${spec.name} revision ${operation.revision} is live in ${env.name}:`);
        for (const url of outcome.urls) io.out(`  ${url}`);
        io.err(io.color.dim(`next: berth status ${spec.name} --env ${env.name}`));
      } else {
        io.out(
          `${spec.name}: ${operation.kind} of revision ${operation.revision} ${operation.status}: ${operation.error}`,
        );
        if (rollback?.kind === 'delete') {
          io.out(
            rollback.status === 'succeeded'
              ? `${spec.name} was never live, so nothing of it is left: removed ${describeRemovals(rollback)}`
              : `removing what the failed deploy created ${rollback.status}: ${rollback.error}`,
          );
        } else if (rollback) {
          io.out(
            rollback.status === 'succeeded'
              ? `returned to revision ${rollback.revision}, the last healthy one; it keeps serving`
              : `the return to revision ${rollback.revision} ${rollback.status}: ${rollback.error}`,
          );
        } else if (options.rollback === false) {
          io.out(
            `kept for inspection (--no-rollback); see it with: berth status ${spec.name} --env ${env.name}`,
          );
        }
        io.err(io.color.dim(`next: berth events ${spec.name} --env ${env.name}`));
      }
      return ok ? 0 : 1;
    });
  },
};
