import type { EnvironmentConfig } from '../spec/types.js';
import { SqliteStateStore, defaultStatePath } from './sqlite/store.js';
import type { StateStore } from './store.js';
import { DynamoStateStore } from './dynamodb/store.js';
import { DEFAULT_TABLE } from './dynamodb/table.js';

/**
 * The state store an environment uses: the embedded SQLite file in the data dir by default; the
 * environment's DynamoDB table for provider aws (shared by every control plane of the account).
 */
export async function openStateStore(env: EnvironmentConfig, dataDir: string): Promise<StateStore> {
  if (env.provider === 'aws' && env.aws) {
    const { region, endpoint, table } = env.aws;
    return DynamoStateStore.open({
      table: table ?? DEFAULT_TABLE,
      connection: { region, ...(endpoint ? { endpoint } : {}) },
    });
  }
  return SqliteStateStore.open(defaultStatePath(dataDir));
}
