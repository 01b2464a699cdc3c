/**
 * The AWS compute driver over hand-made SDK answers (recorded responses of what moto cannot
 * show): only the given APIs, no shared environment resources, and an empty ALB pool unless one
 * is given.
 */
import { awsComputeDriver } from '../../src/providers/aws/compute.js';
import { awsSettings, type AwsApis } from '../../src/providers/aws/shared.js';
import type { EnvironmentConfig } from '../../src/spec/types.js';

export function computeDriverOver(apis: AwsApis, env: EnvironmentConfig, pool: unknown = {}) {
  return awsComputeDriver({
    apis,
    settings: awsSettings(env),
    shared: async () => {
      throw new Error('not needed');
    },
    pool: pool as never,
  });
}
