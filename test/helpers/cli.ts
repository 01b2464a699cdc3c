import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI, exactly as a user runs it (`npm test` builds first). */
export const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  dataDir: string;
  env?: Record<string, string>;
  cwd?: string;
}

function childEnv(options: CliOptions): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: '1', BERTH_HOME: options.dataDir, ...options.env };
}

/** Starts `berth ARGS` as a real process; `exited` resolves with its output. */
export function spawnCli(args: string[], options: CliOptions) {
  const child: ChildProcess = spawn(process.execPath, [BERTH_BIN, ...args], {
    env: childEnv(options),
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves once stderr contains `text`. */
    async waitForStderr(text: string, timeoutMs = 20_000): Promise<void> {
      const giveUp = Date.now() + timeoutMs;
      while (!stderr.includes(text)) {
        if (child.exitCode !== null) throw new Error(`berth exited before printing "${text}":\n${stderr}`);
        if (Date.now() > giveUp) throw new Error(`timed out waiting for "${text}" in:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** Runs `berth ARGS` to completion. */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return spawnCli(args, options).exited;
}
