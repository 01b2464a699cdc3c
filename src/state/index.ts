import type { EnvironmentConfig } from '../spec/types.js';
import { SqliteStateStore, defaultStatePath } from './sqlite/store.js';
import type { StateStore } from './store.js';

/** The state store an environment uses: the embedded SQLite file in the data dir by default. */
export async function openStateStore(_env: EnvironmentConfig, dataDir: string): Promise<StateStore> {
  return SqliteStateStore.open(defaultStatePath(dataDir));
}
