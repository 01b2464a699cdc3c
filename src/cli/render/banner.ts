import type { VerifiedIdentity } from '../../providers/provider.js';
import type { EnvironmentConfig } from '../../spec/types.js';
import type { Io } from '../io.js';

type Colorize = (text: string) => string;

export function envColor(io: Io, env: EnvironmentConfig): Colorize {
  const palette = io.color as unknown as Record<string, Colorize>;
  return palette[env.color] ?? ((text) => text);
}

/**
 * The line every environment-touching command prints first, on stderr: the environment's name
 * in its colour, the provider, the verified identity, and PROTECTED when it is. The words alone
 * say where you are, with or without colour.
 */
export function renderBanner(io: Io, env: EnvironmentConfig, identity: VerifiedIdentity): string {
  const color = envColor(io, env);
  const name = io.color.bold(color(`[${env.name}]`));
  const guard = env.protected ? ` ${io.color.bold(io.color.red('PROTECTED'))}` : '';
  return `${name}${guard} ${env.provider} provider · ${identity.description}`;
}
