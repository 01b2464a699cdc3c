/**
 * Shell completion scripts. Commands, subcommands and options are written into the script when
 * it is made (`berth completion SHELL` loads every command once); environment and service names
 * are asked for at each Tab from `berth __complete envs|services`, a hidden command that reads
 * the prompt state file and the SQLite state, and never a provider or the API.
 */
import { GLOBAL_OPTIONS, type OptionSpec } from './globals.js';
import type { CommandEntry, CommandSpec } from './registry.js';
import { commandName } from './registry.js';

export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** What a command's first positional argument is, for completing it. */
type ArgKind = 'service' | 'env' | 'path' | 'other' | null;

interface Completable {
  /** "deploy" or "env/show". */
  key: string;
  name: string;
  summary: string;
  options: string[];
  /** Options taking a value (their value is not a positional argument). */
  valued: string[];
  subcommands: string[];
  arg: ArgKind;
}

function argKind(name: string): ArgKind {
  const first = /[<[]([a-z-]+)/.exec(name.split(' ').slice(1).join(' '))?.[1];
  if (!first) return null;
  if (first === 'service') return 'service';
  if (first === 'env') return 'env';
  if (first === 'path') return 'path';
  return 'other';
}

const longFlag = (option: OptionSpec) => /--[a-z0-9-]+/.exec(option.flags)![0];

function describe(spec: CommandSpec, key: string): Completable {
  const visible = (spec.options ?? []).filter((option) => !option.hidden);
  return {
    key,
    name: commandName(spec.name),
    summary: spec.summary,
    options: visible.map(longFlag),
    valued: visible.filter((option) => /[<[]/.test(option.flags)).map(longFlag),
    subcommands: (spec.subcommands ?? []).filter((sub) => !sub.hidden).map((sub) => commandName(sub.name)),
    arg: argKind(spec.name),
  };
}

/** Every visible command and subcommand, loaded from the registry. */
export async function completables(entries: CommandEntry[]): Promise<Completable[]> {
  const all: Completable[] = [];
  for (const entry of entries.filter((e) => !e.hidden)) {
    const spec = await entry.load();
    const top = describe(spec, commandName(spec.name));
    all.push(top);
    for (const sub of (spec.subcommands ?? []).filter((s) => !s.hidden)) {
      all.push(describe(sub, `${top.name}/${commandName(sub.name)}`));
    }
  }
  return all;
}

const GLOBAL_FLAGS = GLOBAL_OPTIONS.map(longFlag);
const GLOBAL_VALUED = GLOBAL_OPTIONS.filter((option) => option.flags.includes('<')).map(longFlag);

const posixQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const fishQuote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function bashScript(commands: Completable[], berth: string[]): string {
  const call = berth.map(posixQuote).join(' ');
  const top = commands.filter((c) => !c.key.includes('/'));
  const withSubs = top.filter((c) => c.subcommands.length).map((c) => c.name);
  const cases = commands.map((c) => {
    const words = [...c.subcommands, ...c.options, ...GLOBAL_FLAGS, '--help'].join(' ');
    return `    ${c.key}) words=${posixQuote(words)} arg=${c.subcommands.length ? '' : (c.arg ?? '')} valued=${posixQuote(c.valued.join(' '))} ;;`;
  });
  return [
    `# berth completion for bash; in ~/.bashrc: eval "$(berth completion bash)"`,
    '_berth() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}',
    '  local i word cmd= sub= env= key words arg valued dataDir=()',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    word=${COMP_WORDS[i]}',
    '    case $word in',
    '      --env) env=${COMP_WORDS[i+1]}; ((i++)); continue ;;',
    '      --data-dir) dataDir=(--data-dir "${COMP_WORDS[i+1]}"); ((i++)); continue ;;',
    `      ${GLOBAL_VALUED.filter((f) => f !== '--env' && f !== '--data-dir').join('|')}) ((i++)); continue ;;`,
    '      -*) continue ;;',
    '    esac',
    '    if [[ -z $cmd ]]; then cmd=$word',
    `    elif [[ -z $sub && " ${withSubs.join(' ')} " == *" $cmd "* ]]; then sub=$word`,
    '    fi',
    '  done',
    '  key=$cmd; [[ -n $sub ]] && key=$cmd/$sub',
    `  words=${posixQuote([...top.map((c) => c.name), ...GLOBAL_FLAGS, '--help', '--version'].join(' '))} arg= valued=`,
    '  case $key in',
    '    "") ;;',
    ...cases,
    '    *) words= ;;',
    '  esac',
    '  case $prev in',
    `    --env) COMPREPLY=($(compgen -W "$(${call} __complete envs "\${dataDir[@]}" 2>/dev/null)" -- "$cur")); return ;;`,
    '    --data-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;',
    `    ${GLOBAL_VALUED.filter((f) => f !== '--env' && f !== '--data-dir').join('|')}) COMPREPLY=(); return ;;`,
    '  esac',
    '  if [[ -n $valued && " $valued " == *" $prev "* ]]; then COMPREPLY=(); return; fi',
    '  if [[ $cur == -* || -z $arg ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); return; fi',
    '  case $arg in',
    `    service) COMPREPLY=($(compgen -W "$(${call} __complete services \${env:+--env "$env"} "\${dataDir[@]}" 2>/dev/null)" -- "$cur")) ;;`,
    `    env) COMPREPLY=($(compgen -W "$(${call} __complete envs "\${dataDir[@]}" 2>/dev/null)" -- "$cur")) ;;`,
    '    path) COMPREPLY=($(compgen -f -- "$cur")) ;;',
    '    *) COMPREPLY=() ;;',
    '  esac',
    '}',
    'complete -o default -F _berth berth',
    '',
  ].join('\n');
}

function zshScript(commands: Completable[], berth: string[]): string {
  return [
    `# berth completion for zsh; in ~/.zshrc: eval "$(berth completion zsh)"`,
    "# The bash completion, through zsh's bashcompinit.",
    'autoload -U +X compinit && { (( ${+_comps} )) || compinit; }',
    'autoload -U +X bashcompinit && bashcompinit',
    bashScript(commands, berth).split('\n').slice(1).join('\n'),
  ].join('\n');
}

function fishScript(commands: Completable[], berth: string[]): string {
  const call = berth.map(fishQuote).join(' ');
  const top = commands.filter((c) => !c.key.includes('/'));
  const lines = [
    '# berth completion for fish; in ~/.config/fish/config.fish: berth completion fish | source',
    'complete -c berth -e',
    'complete -c berth -f',
    '# --env and --data-dir as typed so far, for the names to come from the right place',
    'function __berth_scope',
    '    set -l words (commandline -opc)',
    '    for flag in --env --data-dir',
    '        set -l at (contains -i -- $flag $words); or continue',
    '        test (count $words) -gt $at; or continue',
    '        echo $flag',
    '        echo $words[(math $at + 1)]',
    '    end',
    'end',
    `function __berth_names; ${call} __complete $argv (__berth_scope) 2>/dev/null; end`,
  ];
  const names = top.map((c) => c.name).join(' ');
  for (const option of GLOBAL_OPTIONS) {
    const flag = longFlag(option).slice(2);
    const value = option.flags.includes('<')
      ? flag === 'env'
        ? ` -x -a '(__berth_names envs)'`
        : flag === 'data-dir'
          ? ' -r -F'
          : ' -x'
      : '';
    lines.push(`complete -c berth -l ${flag}${value} -d ${fishQuote(option.description)}`);
  }
  for (const c of top) {
    lines.push(
      `complete -c berth -n "not __fish_seen_subcommand_from ${names}" -a ${c.name} -d ${fishQuote(c.summary)}`,
    );
  }
  for (const c of commands) {
    const [parent, child] = c.key.split('/');
    const parentSpec = top.find((t) => t.name === parent)!;
    const condition = child
      ? `__fish_seen_subcommand_from ${parent}; and __fish_seen_subcommand_from ${child}`
      : parentSpec.subcommands.length
        ? `__fish_seen_subcommand_from ${parent}; and not __fish_seen_subcommand_from ${parentSpec.subcommands.join(' ')}`
        : `__fish_seen_subcommand_from ${parent}`;
    if (!child) {
      for (const sub of commands.filter((s) => s.key.startsWith(`${parent}/`))) {
        lines.push(`complete -c berth -n "${condition}" -a ${sub.name} -d ${fishQuote(sub.summary)}`);
      }
    }
    for (const option of c.options) {
      const valued = c.valued.includes(option) ? ' -x' : '';
      lines.push(`complete -c berth -n "${condition}" -l ${option.slice(2)}${valued}`);
    }
    if (c.arg === 'service') lines.push(`complete -c berth -n "${condition}" -a '(__berth_names services)'`);
    if (c.arg === 'env') lines.push(`complete -c berth -n "${condition}" -a '(__berth_names envs)'`);
    if (c.arg === 'path') lines.push(`complete -c berth -n "${condition}" -F`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: CompletionShell, commands: Completable[], berth: string[]): string {
  if (shell === 'bash') return bashScript(commands, berth);
  if (shell === 'zsh') return zshScript(commands, berth);
  return fishScript(commands, berth);
}
