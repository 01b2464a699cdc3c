import { Command, Option } from 'commander';
import type { Io } from './io.js';
import { GLOBAL_OPTIONS, type GlobalOptions, type OptionSpec } from './globals.js';

export { GLOBAL_OPTIONS, type OptionSpec };

/** One command, declared as data; `buildProgram` turns it into a commander command. */
export interface CommandSpec {
  /** Name and positional arguments in commander syntax, e.g. "deploy [path]". */
  name: string;
  summary: string;
  /** Extra help text shown under the options (examples, next steps). */
  help?: string;
  options?: OptionSpec[];
  subcommands?: CommandSpec[];
  /** Left out of `--help` and completion (internal helpers such as the completion back end). */
  hidden?: boolean;
  run?: (input: CommandInput) => Promise<number | void>;
}

/**
 * A top-level command as the registry knows it before loading it: enough to list it in
 * `berth --help` and to find it by name. `load` imports the command's module, which happens only
 * for the command that runs (or shows its own help).
 */
export interface CommandEntry {
  /** The spec's own name, with positional arguments, e.g. "deploy [path]". */
  name: string;
  /** The spec's own summary. */
  summary: string;
  /** The heading `berth --help` lists the command under, e.g. "Look:". */
  group: string;
  hidden?: boolean;
  load: () => Promise<CommandSpec>;
}

export interface CommandInput {
  args: string[];
  options: Record<string, unknown>;
  globals: GlobalOptions;
  io: Io;
}

export type Runner = (
  spec: CommandSpec,
  input: Omit<CommandInput, 'globals' | 'io'>,
  cmd: Command,
) => Promise<void>;

/** The command word of a name such as "deploy [path]". */
export function commandName(name: string): string {
  return name.split(' ')[0]!;
}

const GLOBAL_FLAGS_WITH_VALUE = new Set(
  GLOBAL_OPTIONS.filter((option) => option.flags.includes('<')).map((option) => option.flags.split(' ')[0]!),
);

/**
 * The words naming the command to run: the first word that is not an option (skipping the values
 * of global options such as `--env NAME`), and for `help NAME` the command asked about.
 */
export function commandWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (GLOBAL_FLAGS_WITH_VALUE.has(arg)) i++;
      continue;
    }
    words.push(arg);
    if (words[0] !== 'help') break;
  }
  return words[0] === 'help' ? words : words.slice(0, 1);
}

function addOption(cmd: Command, spec: OptionSpec): void {
  const option = new Option(spec.flags, spec.description);
  if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
  if (spec.choices) option.choices(spec.choices);
  if (spec.hidden) option.hideHelp();
  cmd.addOption(option);
}

function addCommand(parent: Command, spec: CommandSpec, runner: Runner): Command {
  const cmd = parent.command(spec.name, { hidden: spec.hidden }).description(spec.summary);
  for (const option of spec.options ?? []) addOption(cmd, option);
  if (spec.help) cmd.addHelpText('after', `\n${spec.help}`);
  for (const sub of spec.subcommands ?? []) addCommand(cmd, sub, runner);
  if (spec.run) {
    cmd.action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      const args = command.processedArgs as string[];
      await runner(spec, { args, options: command.opts() }, command);
    });
  }
  return cmd;
}

/** The heading of the `help` command in `berth --help`. */
export const HELP_GROUP = 'Shell:';

/**
 * The commander program for one invocation. Only the commands named in `argv` are loaded; every
 * other command is registered by name and summary alone, which is all `berth --help` shows.
 */
export async function buildProgram(
  entries: CommandEntry[],
  argv: string[],
  runner: Runner,
  version: string,
): Promise<Command> {
  const program = new Command('berth')
    .description('berth: deploy web services, notice drift, repair it.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false)
    // Set before any command is added: subcommands copy these settings when they are created.
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .configureHelp({ showGlobalOptions: true });
  for (const option of GLOBAL_OPTIONS) addOption(program, option);
  const wanted = new Set(commandWords(argv));
  for (const entry of entries) {
    const cmd = wanted.has(commandName(entry.name))
      ? addCommand(program, await entry.load(), runner)
      : program.command(entry.name, { hidden: entry.hidden }).description(entry.summary);
    cmd.helpGroup(entry.group);
  }
  program.commandsGroup(HELP_GROUP).helpCommand(true);
  return program;
}
