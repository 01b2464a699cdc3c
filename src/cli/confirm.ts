import { RefusedError } from '../core/errors.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { Io } from './io.js';

/**
 * The confirmation to hand to the engine for a destructive change in a protected environment:
 * `--confirm <env>` as given, or, at an interactive terminal, what the user types when asked for
 * the environment's name. The engine refuses (and audits the refusal) when it does not match;
 * `--yes` alone is never enough. Ctrl-C at the question exits 130 (see io.ask).
 */
export async function askConfirmation(
  env: EnvironmentConfig,
  flag: unknown,
  io: Io,
  what: string,
): Promise<string | undefined> {
  if (!env.protected) return undefined;
  if (flag !== undefined) return String(flag);
  if (!io.isInteractive) return undefined;
  const question = `${env.name} is PROTECTED. Type the environment name (${env.name}) to ${what}: `;
  return (await io.ask(question)).trim();
}

/**
 * A y/N question before a destructive change outside a protected environment (a protected one
 * asks for its name instead, see askConfirmation). `--yes` answers it for scripts. Without a
 * terminal to ask at and without `--yes`, the change is refused (exit 3) rather than made: a
 * script must say that it means it, and never hangs waiting for an answer.
 */
export async function askYesNo(
  env: EnvironmentConfig,
  io: Io,
  options: { yes: boolean; question: string; refusal: string },
): Promise<void> {
  if (env.protected || options.yes) return;
  if (!io.isInteractive) {
    throw new RefusedError(`${options.refusal}: not confirmed (no terminal to ask at)`, {
      code: 'confirmation_required',
      hint: 'add --yes to confirm from a script',
    });
  }
  const answer = (await io.ask(`${options.question} [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') {
    throw new RefusedError(`${options.refusal}: not confirmed`, {
      code: 'not_confirmed',
      hint: 'nothing was changed; answer y to go ahead, or pass --yes',
    });
  }
}
