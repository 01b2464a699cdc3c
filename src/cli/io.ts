import pc from 'picocolors';

/** Where a command writes: data to stdout, progress, banners and prompts to stderr. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Colours for stderr/stdout; plain text when NO_COLOR, --no-color or not a terminal. */
  color: ReturnType<typeof pc.createColors>;
  /** stdin and stderr are a terminal: a person can be asked, and progress can be redrawn. */
  isInteractive: boolean;
  /** stderr is a terminal: progress lines may be redrawn in place. */
  stderrIsTTY: boolean;
  /**
   * How wide stdout's lines may be: the terminal's width, else $COLUMNS when set, else no limit
   * (a pipe gets whole lines, so `grep` sees everything; `--json` is there for scripts).
   */
  width: number;
  /** The same for stderr (progress and messages). */
  errWidth: number;
  /** Asks on stderr and reads a line from stdin; Ctrl-C rejects with `Interrupted`. */
  ask(question: string): Promise<string>;
}

/** The user pressed Ctrl-C at a prompt: the CLI exits 130 (128 + SIGINT) without a stack. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** Colour only for a terminal, and never with --no-color or $NO_COLOR. */
export function colorWanted(stream: NodeJS.WriteStream, noColor: boolean): boolean {
  if (noColor || process.env.NO_COLOR) return false;
  return Boolean(stream.isTTY);
}

function outputWidth(stream: NodeJS.WriteStream): number {
  if (stream.isTTY && stream.columns) return stream.columns;
  const fromEnv = Number(process.env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Infinity;
}

async function askOnTerminal(question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  return new Promise((resolve, reject) => {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    // At a terminal readline reads keys itself, so Ctrl-C arrives here rather than as a signal.
    prompt.once('SIGINT', () => {
      process.stderr.write('\n');
      reject(new Interrupted()); // before close(), whose handler would answer "" first
      prompt.close();
    });
    // End of input (Ctrl-D) answers nothing, which every caller treats as "no".
    prompt.once('close', () => resolve(''));
    prompt.question(question, (answer) => {
      resolve(answer);
      prompt.close();
    });
  });
}

export function processIo(noColor: boolean): Io {
  // stdout's colour follows stdout, so `berth env ls | cat -v` shows no escapes; messages on
  // stderr follow stderr. One palette serves both, so use colour only when both are terminals.
  const useColor = colorWanted(process.stdout, noColor) && colorWanted(process.stderr, noColor);
  return {
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    color: pc.createColors(useColor),
    isInteractive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    width: outputWidth(process.stdout),
    errWidth: outputWidth(process.stderr),
    ask: askOnTerminal,
  };
}
