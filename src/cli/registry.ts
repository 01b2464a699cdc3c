import { Command, Option } from 'commander';
import type { Io } from './io.js';
import type { GlobalOptions } from './globals.js';

/** One command, declared as data; `buildProgram` turns the list into the commander tree. */
export interface CommandSpec {
  /** Name and positional arguments in commander syntax, e.g. "deploy [path]". */
  name: string;
  summary: string;
  /** Extra help text shown under the options (examples, next steps). */
  help?: string;
  options?: OptionSpec[];
  subcommands?: CommandSpec[];
  run?: (input: CommandInput) => Promise<number | void>;
}

export interface OptionSpec {
  flags: string;
  description: string;
  defaultValue?: unknown;
  choices?: string[];
}

export interface CommandInput {
  args: string[];
  options: Record<string, unknown>;
  globals: GlobalOptions;
  io: Io;
}

/** Global options, defined once and inherited by every command. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { flags: '--env <name>', description: 'environment to act on (see `berth env ls`)' },
  { flags: '--data-dir <dir>', description: 'berth data dir (default: $BERTH_HOME or ~/.berth)' },
  { flags: '--json', description: 'print machine-readable JSON on stdout' },
  { flags: '--no-color', description: 'plain output without colours (NO_COLOR is honoured too)' },
  { flags: '--direct', description: 'run the engine inside the CLI instead of calling the API' },
  { flags: '--api <url>', description: 'control plane API URL' },
  { flags: '--token <token>', description: 'API token' },
];

export type Runner = (
  spec: CommandSpec,
  input: Omit<CommandInput, 'globals' | 'io'>,
  cmd: Command,
) => Promise<void>;

function addOption(cmd: Command, spec: OptionSpec): void {
  const option = new Option(spec.flags, spec.description);
  if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
  if (spec.choices) option.choices(spec.choices);
  cmd.addOption(option);
}

function addCommand(parent: Command, spec: CommandSpec, runner: Runner): void {
  const cmd = parent.command(spec.name).description(spec.summary);
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
}

export function buildProgram(commands: CommandSpec[], runner: Runner, version: string): Command {
  const program = new Command('berth')
    .description('berth: deploy web services, notice drift, repair it.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false);
  for (const option of GLOBAL_OPTIONS) addOption(program, option);
  for (const spec of commands) addCommand(program, spec, runner);
  return program;
}
