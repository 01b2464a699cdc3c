import { UserError } from '../core/errors.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { Provider } from './provider.js';

export interface ProviderOptions {
  dataDir: string;
  /** Called when a local runtime had to be started. */
  onRuntimeStart?: (message: string) => void;
}

/** The provider an environment names, ready to use. */
export async function createProvider(env: EnvironmentConfig, options: ProviderOptions): Promise<Provider> {
  switch (env.provider) {
    // Each provider is imported only when an environment uses it: the AWS SDK alone takes longer
    // to load than a whole local command.
    case 'local': {
      const { createLocalProvider } = await import('./local/index.js');
      return createLocalProvider(options.dataDir, { onRuntimeStart: options.onRuntimeStart });
    }
    case 'aws': {
      const { createAwsProvider } = await import('./aws/index.js');
      return createAwsProvider(env);
    }
    default:
      throw new UserError(
        `environment ${env.name} uses the ${env.provider} provider, which this build cannot drive yet`,
        {
          hint: 'use an environment with provider: local',
        },
      );
  }
}
