/**
 * `berth recover --env E`: the break-glass command. Redeploys the control plane's last revision
 * from the state store, in direct mode (there is no API to ask), converging over whatever is left
 * of it; then waits until the API answers at its stable URL again.
 */
import type { CommandSpec } from '../registry.js';
import { sleep } from '../../core/clock.js';
import { ActiveOperationError } from '../../state/store.js';
import {
  CONTROL_PLANE_SERVICE,
  controlPlaneUrl,
  lastControlPlaneRevision,
  recordControlPlaneRecovered,
  recoverControlPlane,
} from '../../engine/self-host.js';
import { ownerPid } from '../../engine/owner.js';
import { withEnvironment } from '../environment.js';
import { apiFetch } from '../loopback-fetch.js';
import { printJson } from '../output.js';
import { parseSeconds, requireControlPlaneEnv } from '../parse.js';
import { progressRenderer } from '../render/progress.js';

async function answers(url: string): Promise<boolean> {
  try {
    const response = await apiFetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

export const recoverCommand: CommandSpec = {
  name: 'recover',
  summary: "bring berth's own control plane back: redeploy its last revision from the store (direct)",
  options: [
    {
      flags: '--health-timeout <seconds>',
      description: 'how long its replicas may take to become healthy',
      defaultValue: '60',
    },
  ],
  help: [
    'Runs in the CLI (the API is what is missing), needs no berth.yaml, and converges over leftovers:',
    'an operation a dead control plane left behind is finished first; one that a live control plane',
    'is running is waited for. Then it waits until the API answers at its URL.',
    'The CLI prints this command, with the right --env, whenever the control plane itself is down.',
    'Example:  berth recover --env production',
  ].join('\n'),
  async run({ options, globals, io }) {
    requireControlPlaneEnv(
      globals,
      'the CLI names it when it finds the control plane down, e.g. berth recover --env production',
    );
    const healthDeadlineMs = parseSeconds(options.healthTimeout, '--health-timeout') * 1000;
    const started = Date.now();
    return withEnvironment(
      { ...globals, direct: true },
      io,
      { mutating: true },
      async ({ env, store, provider, engine }) => {
        const revision = await lastControlPlaneRevision(store, env.name);
        if (revision) {
          io.err(
            `recovering berth's control plane in ${env.name} from revision ${revision.number} in the state store`,
          );
        }
        // A control plane that is alive may be repairing it right now: wait for that, then converge.
        const giveUpAt = Date.now() + healthDeadlineMs;
        let waitingFor: string | null = null;
        let result: Awaited<ReturnType<typeof recoverControlPlane>>;
        for (;;) {
          try {
            result = await recoverControlPlane(engine(progressRenderer(io)), store, env, {
              healthDeadlineMs,
            });
            break;
          } catch (error) {
            if (!(error instanceof ActiveOperationError) || Date.now() > giveUpAt) throw error;
            if (waitingFor !== error.active.id) {
              waitingFor = error.active.id;
              io.err(
                `  … a ${error.active.kind} (${error.active.id}) by a live process (pid ${ownerPid(error.active.leaseOwner)}) is under way; waiting for it`,
              );
            }
            await sleep(250);
          }
        }
        const { operation } = result.outcome;
        const ok = operation.status === 'succeeded';
        const url = await controlPlaneUrl(provider, env, result.revision.spec);
        let answeredAfterMs: number | null = null;
        if (ok) {
          const until = Date.now() + healthDeadlineMs;
          let answered = await answers(url);
          while (!answered && Date.now() < until) {
            await sleep(100);
            answered = await answers(url);
          }
          if (answered) {
            answeredAfterMs = Date.now() - started;
            await recordControlPlaneRecovered(store, env.name, {
              url,
              operationId: operation.id,
              revision: operation.revision ?? result.revision.number,
            });
          }
        }
        if (globals.json) {
          printJson(io, {
            service: CONTROL_PLANE_SERVICE,
            env: env.name,
            status: operation.status,
            revision: operation.revision,
            url,
            answers: answeredAfterMs !== null,
            answeredAfterMs,
            operation,
          });
        } else if (ok && answeredAfterMs !== null) {
          io.out(
            `berth's control plane is back in ${env.name} (revision ${operation.revision}); its API answers at ${url} (${(answeredAfterMs / 1000).toFixed(1)} s)`,
          );
        } else if (ok) {
          io.out(
            `berth's control plane is deployed in ${env.name}, but its API at ${url} does not answer yet`,
          );
        } else {
          io.out(`${CONTROL_PLANE_SERVICE}: recovery ${operation.status}: ${operation.error}`);
          io.err(io.color.dim(`next: berth events ${CONTROL_PLANE_SERVICE} --env ${env.name} --direct`));
        }
        return ok && answeredAfterMs !== null ? 0 : 1;
      },
    );
  },
};
