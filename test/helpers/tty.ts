/**
 * Test helper: a command on a real pseudo-terminal, through util-linux `script`, sized as asked.
 * `send` types into the terminal once the screen shows some text.
 */
import { spawn } from 'node:child_process';

export interface TtyRun {
  /** Everything the terminal showed, escapes included. */
  screen(): string;
  /** Waits until the screen shows `text`, then types `keys`. */
  typeWhen(text: string, keys: string, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; screen: string }>;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

export function runOnTty(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; columns?: number } = {},
): TtyRun {
  const command = `stty cols ${options.columns ?? 80} rows 40; exec ${argv.map(quote).join(' ')}`;
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
    env: { ...process.env, TERM: 'xterm', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const exited = new Promise<{ code: number | null; screen: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, screen })),
  );
  return {
    screen: () => screen,
    exited,
    async typeWhen(text, keys, timeoutMs = 20_000) {
      const giveUp = Date.now() + timeoutMs;
      while (!screen.includes(text)) {
        if (child.exitCode !== null) throw new Error(`exited before showing "${text}":\n${screen}`);
        if (Date.now() > giveUp) throw new Error(`timed out waiting for "${text}" in:\n${screen}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.stdin.write(keys);
    },
  };
}
