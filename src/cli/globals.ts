import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Options every command accepts; defined once in the registry. */
export interface GlobalOptions {
  env?: string;
  dataDir: string;
  json: boolean;
  noColor: boolean;
  direct: boolean;
  api?: string;
  token?: string;
}

/** `--data-dir`, else `$BERTH_HOME`, else `~/.berth`. */
export function resolveDataDir(flag: string | undefined): string {
  if (flag) return resolve(flag);
  if (process.env.BERTH_HOME) return resolve(process.env.BERTH_HOME);
  return join(homedir(), '.berth');
}
