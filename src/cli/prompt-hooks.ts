/**
 * The shell hooks `berth prompt --init bash|zsh|fish` prints. At every prompt the hook reads
 * `<data dir>/prompt.tsv` (see prompt-state.ts) with shell built-ins only, and sets
 *   BERTH_PROMPT  the segment as plain text, e.g. `berth:production!PROTECTED:123456789012`
 *   BERTH_PS1     the same in the environment's colour plus a space, put in front of the prompt
 * It starts no process per prompt. When the config or the contexts file is newer than the state
 * file (edited by hand), it starts one `berth prompt --refresh` in the background, at most every
 * 10 seconds, and the next prompt shows the change.
 *
 * The segment: `berth:<env>`, `!PROTECTED` for a protected environment, `:<account>` for an AWS
 * environment whose identity berth has verified, `[<context>]` after `berth` when a context is
 * current; `<env>?` when $BERTH_ENV names an environment the config does not have.
 */

export const PROMPT_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type PromptShell = (typeof PROMPT_SHELLS)[number];

/** Single-quoted for bash and zsh. */
const posixQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
/** Single-quoted for fish (which also treats backslash specially inside quotes). */
const fishQuote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** ANSI colour numbers for the environment colours berth.config.yaml allows. */
const COLOR_CASES =
  'red) c=31;; green) c=32;; yellow) c=33;; blue) c=34;; magenta) c=35;; cyan) c=36;; *) c=37;;';

export interface HookOptions {
  /** How to run berth for a refresh, e.g. [node, /path/bin/berth.js]. */
  berth: string[];
  /** A data dir given with --data-dir; otherwise the hook follows $BERTH_HOME, then ~/.berth. */
  dataDir?: string;
}

function posixHook(shell: 'bash' | 'zsh', options: HookOptions): string {
  const refresh = [
    ...options.berth,
    'prompt',
    '--refresh',
    ...(options.dataDir ? ['--data-dir', options.dataDir] : []),
  ]
    .map(posixQuote)
    .join(' ');
  const dir = options.dataDir ? posixQuote(options.dataDir) : '"${BERTH_HOME:-$HOME/.berth}"';
  // Invisible spans: bash's readline wants \001..\002, zsh wants %{..%}.
  const [open, close] = shell === 'bash' ? [`$'\\001'`, `$'\\002'`] : [`'%{'`, `'%}'`];
  const escapeText = shell === 'zsh' ? '\n  seg=${seg//\\%/%%}' : '';
  const install =
    shell === 'bash'
      ? [
          'if [[ ";${PROMPT_COMMAND:-};" != *";__berth_prompt;"* ]]; then',
          '  PROMPT_COMMAND="__berth_prompt;${PROMPT_COMMAND:-}"',
          'fi',
          `[[ $PS1 == *'\${BERTH_PS1}'* ]] || PS1='\${BERTH_PS1}'"$PS1"`,
        ]
      : [
          'autoload -Uz add-zsh-hook',
          'add-zsh-hook precmd __berth_prompt',
          'setopt PROMPT_SUBST',
          `[[ $PS1 == *'\${BERTH_PS1}'* ]] || PS1='\${BERTH_PS1}'"$PS1"`,
        ];
  return [
    `# berth prompt hook for ${shell}; in ~/.${shell}rc: eval "$(berth prompt --init ${shell})"`,
    '# Reads the state file berth keeps current; starts no program per prompt.',
    '__berth_prompt() {',
    '  local rc=$? dir file kind f1 f2 f3 f4 f5 def= ctx= want seg= c',
    `  dir=${dir}`,
    '  file=$dir/prompt.tsv',
    '  if [[ -d $dir ]] && { [[ ! -f $file || $dir/berth.config.yaml -nt $file || $dir/contexts.json -nt $file ]]; } &&',
    '    (( SECONDS - ${__berth_refreshed:- -100} >= 10 )); then',
    '    __berth_refreshed=$SECONDS',
    `    ( ${refresh} >/dev/null 2>&1 & )`,
    '  fi',
    '  BERTH_PROMPT= BERTH_PS1=',
    '  [[ -r $file ]] || return $rc',
    "  while IFS=$'\\t' read -r kind f1 f2 f3 f4 f5; do",
    '    case $kind in',
    '      default) def=$f1 ;;',
    '      context) [[ $f1 == - ]] || ctx="[$f1]" ;;',
    '      env)',
    '        want=${BERTH_ENV:-$def}',
    '        [[ $f1 == "$want" && $want != - ]] || continue',
    '        seg="berth$ctx:$f1"',
    '        [[ $f2 == PROTECTED ]] && seg+="!PROTECTED"',
    '        [[ $f4 == aws && $f5 != - ]] && seg+=":$f5"',
    `        case $f3 in ${COLOR_CASES} esac`,
    '        [[ $f2 == PROTECTED ]] && c="1;$c"',
    '        ;;',
    '    esac',
    '  done <"$file"',
    '  if [[ -z $seg && -n $BERTH_ENV ]]; then seg="berth$ctx:$BERTH_ENV?" c=33; fi',
    '  [[ -n $seg ]] || return $rc',
    `  BERTH_PROMPT=$seg${escapeText}`,
    '  if [[ -n ${NO_COLOR:-} ]]; then BERTH_PS1="$seg "',
    `  else BERTH_PS1=${open}$'\\e['"$c"'m'${close}"$seg"${open}$'\\e[0m'${close}' '`,
    '  fi',
    '  return $rc',
    '}',
    ...install,
    '',
  ].join('\n');
}

function fishHook(options: HookOptions): string {
  const refresh = [
    ...options.berth,
    'prompt',
    '--refresh',
    ...(options.dataDir ? ['--data-dir', options.dataDir] : []),
  ]
    .map(fishQuote)
    .join(' ');
  const dir = options.dataDir ? fishQuote(options.dataDir) : '$HOME/.berth';
  return [
    '# berth prompt hook for fish; in ~/.config/fish/config.fish: berth prompt --init fish | source',
    '# Reads the state file berth keeps current; starts no program per prompt.',
    'function __berth_prompt',
    `    set -l dir ${dir}`,
    options.dataDir ? '' : '    set -q BERTH_HOME; and test -n "$BERTH_HOME"; and set dir $BERTH_HOME',
    '    set -l file $dir/prompt.tsv',
    '    if test -d $dir; and begin; not test -f $file; or test $dir/berth.config.yaml -nt $file; or test $dir/contexts.json -nt $file; end',
    '        set -q __berth_refreshed; or set -g __berth_refreshed 0',
    '        set -l now (date +%s)',
    '        if test (math $now - $__berth_refreshed) -ge 10',
    '            set -g __berth_refreshed $now',
    `            command sh -c 'exec "$@" >/dev/null 2>&1 &' sh ${refresh}`,
    '        end',
    '    end',
    "    set -g BERTH_PROMPT ''",
    "    set -g BERTH_PS1 ''",
    '    test -r $file; or return',
    "    set -l def ''",
    "    set -l ctx ''",
    "    set -l seg ''",
    '    set -l c 37',
    '    while read -l --delimiter \\t kind f1 f2 f3 f4 f5',
    '        switch $kind',
    '            case default',
    '                set def $f1',
    '            case context',
    '                test "$f1" = -; or set ctx "[$f1]"',
    '            case env',
    '                set -l want $def',
    '                set -q BERTH_ENV; and test -n "$BERTH_ENV"; and set want $BERTH_ENV',
    '                test "$f1" = "$want"; and test "$want" != -; or continue',
    '                set seg "berth$ctx:$f1"',
    '                test "$f2" = PROTECTED; and set seg "$seg!PROTECTED"',
    '                test "$f4" = aws; and test "$f5" != -; and set seg "$seg:$f5"',
    '                switch $f3',
    '                    case red; set c 31',
    '                    case green; set c 32',
    '                    case yellow; set c 33',
    '                    case blue; set c 34',
    '                    case magenta; set c 35',
    '                    case cyan; set c 36',
    '                end',
    '                test "$f2" = PROTECTED; and set c "1;$c"',
    '        end',
    '    end <$file',
    '    if test -z "$seg"; and set -q BERTH_ENV; and test -n "$BERTH_ENV"',
    '        set seg "berth$ctx:$BERTH_ENV?"',
    '        set c 33',
    '    end',
    '    test -n "$seg"; or return',
    '    set -g BERTH_PROMPT $seg',
    '    if set -q NO_COLOR',
    '        set -g BERTH_PS1 "$seg "',
    '    else',
    '        set -g BERTH_PS1 \\e\\[$c"m$seg"\\e\\[0m" "',
    '    end',
    'end',
    'function __berth_return; return $argv[1]; end',
    'functions -q __berth_original_fish_prompt; or functions -c fish_prompt __berth_original_fish_prompt',
    'function fish_prompt',
    '    set -l last_status $status',
    '    __berth_prompt',
    '    printf %s $BERTH_PS1',
    '    __berth_return $last_status',
    '    __berth_original_fish_prompt',
    'end',
    '',
  ]
    .filter((line) => line !== '')
    .join('\n')
    .concat('\n');
}

export function promptHook(shell: PromptShell, options: HookOptions): string {
  return shell === 'fish' ? fishHook(options) : posixHook(shell, options);
}
