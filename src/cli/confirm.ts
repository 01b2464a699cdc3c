import { createInterface } from 'node:readline/promises';
import type { EnvironmentConfig } from '../spec/types.js';
import type { Io } from './io.js';

/**
 * The confirmation to hand to the engine for a destructive change in a protected environment:
 * `--confirm <env>` as given, or, at an interactive terminal, what the user types when asked for
 * the environment's name. The engine refuses (and audits the refusal) when it does not match;
 * `--yes` alone is never enough.
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
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const question = `${env.name} is PROTECTED. Type the environment name (${env.name}) to ${what}: `;
    return (await prompt.question(question)).trim();
  } finally {
    prompt.close();
  }
}
