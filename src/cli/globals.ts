import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Options every command accepts; defined once in the registry. */
export interface GlobalOptions {
  env?: string;
  dataDir: string;
  /** The data dir was given with --data-dir (not taken from $BERTH_HOME or the default). */
  dataDirGiven?: boolean;
  json: boolean;
  noColor: boolean;
  direct: boolean;
  api?: string;
  token?: string;
}

/** An option as data; the registry turns it into a commander option. */
export interface OptionSpec {
  flags: string;
  description: string;
  defaultValue?: unknown;
  choices?: string[];
  /** Accepted but left out of --help (and of completion). */
  hidden?: boolean;
}

/** Global options, defined once and inherited by every command (and listed in every --help). */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { flags: '--env <name>', description: 'environment to act on (see `berth env ls`)' },
  { flags: '--data-dir <dir>', description: 'berth data dir (default: $BERTH_HOME or ~/.berth)' },
  { flags: '--json', description: 'print machine-readable JSON on stdout' },
  { flags: '--no-color', description: 'plain output without colours (NO_COLOR is honoured too)' },
  { flags: '--direct', description: 'run the engine inside the CLI instead of calling the API' },
  { flags: '--api <url>', description: 'control plane API URL' },
  { flags: '--token <token>', description: 'API token' },
];

/** `--data-dir`, else `$BERTH_HOME`, else `~/.berth`. */
export function resolveDataDir(flag: string | undefined): string {
  if (flag) return resolve(flag);
  if (process.env.BERTH_HOME) return resolve(process.env.BERTH_HOME);
  return join(homedir(), '.berth');
}
