import { UserError } from '../core/errors.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { Provider } from './provider.js';
import { createLocalProvider } from './local/index.js';
import { createAwsProvider } from './aws/index.js';

export interface ProviderOptions {
  dataDir: string;
  /** Called when a local runtime had to be started. */
  onRuntimeStart?: (message: string) => void;
}

/** The provider an environment names, ready to use. */
export async function createProvider(env: EnvironmentConfig, options: ProviderOptions): Promise<Provider> {
  switch (env.provider) {
    case 'local':
      return createLocalProvider(options.dataDir, { onRuntimeStart: options.onRuntimeStart });
    case 'aws':
      return createAwsProvider(env);
    default:
      throw new UserError(
        `environment ${env.name} uses the ${env.provider} provider, which this build cannot drive yet`,
        {
          hint: 'use an environment with provider: local',
        },
      );
  }
}
