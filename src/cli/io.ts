import pc from 'picocolors';

/** Where a command writes: data to stdout, progress, banners and prompts to stderr. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Colours for stderr/stdout; plain text when NO_COLOR, --no-color or not a terminal. */
  color: ReturnType<typeof pc.createColors>;
  isInteractive: boolean;
}

export function processIo(noColor: boolean): Io {
  const useColor = !noColor && !process.env.NO_COLOR && Boolean(process.stderr.isTTY);
  return {
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    color: pc.createColors(useColor),
    isInteractive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
  };
}
