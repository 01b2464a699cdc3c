import type { Provider, VerifiedIdentity } from '../providers/provider.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { StateStore } from '../state/store.js';
import type { Clock } from '../core/clock.js';
import { RefusedError } from '../core/errors.js';

/** What every step of one service's operation works with. */
export interface ServiceContext {
  store: StateStore;
  provider: Provider;
  env: EnvironmentConfig;
  service: string;
  clock: Clock;
  /**
   * The identity the mutation that runs this operation verified just before it began (see
   * Engine): the operation's own "check identity" step shows it instead of asking the provider
   * again. Absent (a resumed or cancelled operation outside a mutation), the step asks.
   */
  verified?: VerifiedIdentity;
}

/**
 * The identity the provider reports, refused when it is not the one the environment declares
 * (the outage began with production credentials in a terminal that looked like staging).
 */
export async function checkIdentity(
  context: Pick<ServiceContext, 'provider' | 'env' | 'verified'>,
): Promise<VerifiedIdentity> {
  const identity = context.verified ?? (await context.provider.identity());
  const declared = context.env.identity;
  if (declared && declared !== identity.id) {
    throw new RefusedError(
      `environment ${context.env.name} is declared to run on ${declared}, but the ${context.provider.name} provider in use reports ${identity.id}`,
      {
        code: 'identity_mismatch',
        hint: `check which credentials or runtime you are using, or fix "identity" of ${context.env.name} in berth.config.yaml`,
      },
    );
  }
  return identity;
}

/** The identity check as a step: its message names the verified identity. */
export async function verifyIdentity(
  context: Pick<ServiceContext, 'provider' | 'env' | 'verified'>,
): Promise<string> {
  const identity = await checkIdentity(context);
  return `${identity.description}${context.env.identity ? ' (matches the environment)' : ''}`;
}
