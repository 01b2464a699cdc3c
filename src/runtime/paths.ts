import { join } from 'node:path';

/** Where the local runtime keeps its files inside berth's data dir. */
export interface RuntimePaths {
  dir: string;
  state: string;
  token: string;
  discovery: string;
  lock: string;
  log: string;
  logsDir: string;
  /** The activity log: every change made through the console, one JSON object a line. */
  activity: string;
  /** The secret store (secret-store.ts), beside the runtime's folder in the data dir. */
  secrets: string;
}

export function runtimePaths(dataDir: string): RuntimePaths {
  const dir = join(dataDir, 'runtime');
  return {
    dir,
    state: join(dir, 'state.json'),
    token: join(dir, 'console.token'),
    discovery: join(dir, 'runtime.json'),
    lock: join(dir, 'runtime.lock'),
    log: join(dir, 'runtime.log'),
    logsDir: join(dir, 'logs'),
    activity: join(dir, 'activity.jsonl'),
    secrets: join(dataDir, 'secrets'),
  };
}

export function replicaLogPath(paths: RuntimePaths, serviceName: string, index: number): string {
  return join(paths.logsDir, serviceName, `${index}.log`);
}
