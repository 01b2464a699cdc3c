import type { EnvironmentConfig } from '../spec/types.js';
import type { StateStore } from './store.js';

/**
 * The state store an environment uses: the embedded SQLite file in the data dir by default; the
 * environment's DynamoDB table for provider aws (shared by every control plane of the account).
 */
export async function openStateStore(env: EnvironmentConfig, dataDir: string): Promise<StateStore> {
  // Each store is imported only when used: the DynamoDB client is slow to load.
  if (env.provider === 'aws' && env.aws) {
    const { DynamoStateStore } = await import('./dynamodb/store.js');
    const { DEFAULT_TABLE } = await import('./dynamodb/table.js');
    const { region, endpoint, table } = env.aws;
    return DynamoStateStore.open({
      table: table ?? DEFAULT_TABLE,
      connection: { region, ...(endpoint ? { endpoint } : {}) },
    });
  }
  const { SqliteStateStore, defaultStatePath } = await import('./sqlite/store.js');
  return SqliteStateStore.open(defaultStatePath(dataDir));
}
