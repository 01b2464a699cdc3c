/**
 * Test helper: a real `berth up` (the control plane: runtime, API, reconciler) in a data dir, on
 * free ports, and the way to stop everything it started (the runtime and its replicas included).
 * Assumes the build is fresh (`npm test` builds first).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimePaths } from '../../src/runtime/paths.js';
import { runCli, spawnCli } from './cli.js';

export interface UpProcess {
  /** The `berth up` process. */
  cli: ReturnType<typeof spawnCli>;
  api: string;
  proxyPort: number;
  /** The admin token `berth up` wrote to the data dir. */
  token: string;
  /** Ends the process with `signal` (default SIGKILL) and waits for it; no-op once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `berth up --port 0` in `dataDir` and waits until it answers. */
export async function startUp(dataDir: string, env: Record<string, string> = {}): Promise<UpProcess> {
  const cli = spawnCli(['up', '--port', '0', '--json'], {
    dataDir,
    env: { BERTH_PROXY_PORT: '0', BERTH_RUNTIME_DRAIN_MS: '100', ...env },
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill(signal);
      await cli.exited;
    }
  };
  try {
    await cli.waitForStderr('control plane is up', 30_000);
  } catch (error) {
    await kill();
    throw error;
  }
  const info = JSON.parse(cli.output().stdout.trim().split('\n')[0]!) as {
    api: string;
    proxy: string | null;
  };
  return {
    cli,
    api: info.api,
    // No proxy when no environment uses the local runtime (say, AWS only).
    proxyPort: info.proxy ? Number(new URL(info.proxy).port) : 0,
    token: readFileSync(join(dataDir, 'api-token'), 'utf8').trim(),
    kill,
  };
}

/** Stops the runtime `berth up` started (and its replicas), whatever state the test left. */
export async function stopRuntime(dataDir: string): Promise<void> {
  await runCli(['runtime', 'stop'], { dataDir });
  try {
    const state = JSON.parse(readFileSync(runtimePaths(dataDir).state, 'utf8')) as {
      processes: { pid?: number }[];
    };
    for (const { pid } of state.processes) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  } catch {
    // no state file
  }
}
