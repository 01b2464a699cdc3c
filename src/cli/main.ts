import { CommanderError } from 'commander';
import { buildProgram, type Runner } from './registry.js';
import { COMMANDS } from './commands/index.js';
import { Interrupted, processIo, type Io } from './io.js';
import { resolveDataDir, type GlobalOptions } from './globals.js';
import { isUserError, type UserError } from '../core/errors.js';
import { providerFailure } from '../core/provider-errors.js';
import { storageFailure } from '../core/storage-errors.js';
import { packageVersion } from '../core/package-root.js';
import { installSourceMappedStacks } from './source-maps.js';

installSourceMappedStacks();

// Everything berth writes (the data dir, its tokens, state and logs) is private to its owner.
process.umask(0o077);

// A reader that stops early (`berth status | head -5`) closes stdout: that is not an error, so
// leave quietly with the exit code the command has reached, instead of crashing on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  throw error;
});

function printUserError(io: Io, error: UserError, json: boolean): void {
  if (json) {
    io.out(
      JSON.stringify({
        error: error.code,
        message: error.message,
        details: error.details,
        hint: error.hint ?? null,
      }),
    );
  }
  io.err(`${io.color.red('error:')} ${error.message}`);
  for (const line of error.details) io.err(`  ${line}`);
  if (error.hint) io.err(`${io.color.dim('hint:')} ${error.hint}`);
}

const runner: Runner = async (spec, input, command) => {
  const raw = command.optsWithGlobals() as Record<string, unknown>;
  const globals: GlobalOptions = {
    env: raw.env as string | undefined,
    dataDir: resolveDataDir(raw.dataDir as string | undefined),
    dataDirGiven: raw.dataDir !== undefined,
    json: Boolean(raw.json),
    noColor: raw.color === false,
    direct: Boolean(raw.direct),
    api: raw.api as string | undefined,
    token: raw.token as string | undefined,
  };
  const io = processIo(globals.noColor);
  try {
    const code = (await spec.run?.({ ...input, globals, io })) ?? 0;
    process.exitCode = code;
  } catch (error) {
    if (error instanceof Interrupted) {
      process.exitCode = 130;
      return;
    }
    // A provider that cannot be reached, or a full or read-only data dir, is the user's to fix
    // (exit 1), not a bug in berth.
    const userError = isUserError(error)
      ? error
      : (providerFailure(error) ?? storageFailure(error, globals.dataDir));
    if (userError) {
      printUserError(io, userError, globals.json);
      process.exitCode = userError.exitCode;
      return;
    }
    io.err(`${io.color.red('internal error (this is a bug in berth, please report it):')}`);
    io.err(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 70;
  }
};

/**
 * Parses the command line and runs the command. Not top-level await: the CLI is also bundled as
 * one CommonJS file (scripts/bundle-cli.mjs), which bin/berth.js compiles with V8's code cache.
 */
async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(COMMANDS, argv, runner, packageVersion());
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; every usage error (unknown option or command, missing
      // argument, bad choice) is exit 2.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
    } else {
      throw error;
    }
  }
}

void main(process.argv.slice(2));
