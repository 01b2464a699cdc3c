/**
 * `berth --help` without loading commander or any command: the same text commander prints for the
 * program (a test holds the two equal), rendered from the registry's data. It exists only so the
 * most common first command a person types starts as fast as `node` itself.
 */
import { COMMANDS } from './commands/index.js';
import { GLOBAL_OPTIONS } from './globals.js';
import type { CommandEntry } from './registry.js';

const DESCRIPTION = 'berth: deploy web services, notice drift, repair it.';
const HELP_GROUP = 'Shell:';
const MIN_WIDTH_TO_WRAP = 40;

/** Wraps at whitespace to `width`, as commander's Help.boxWrap does. */
function boxWrap(text: string, width: number): string {
  if (width < MIN_WIDTH_TO_WRAP) return text;
  const lines: string[] = [];
  for (const line of text.split(/\r\n|\n/)) {
    const chunks = line.match(/[\s]*[^\s]+/g);
    if (!chunks) {
      lines.push('');
      continue;
    }
    let current = chunks.shift()!;
    for (const chunk of chunks) {
      if (current.length + chunk.length <= width) current += chunk;
      else {
        lines.push(current);
        current = chunk.trimStart();
      }
    }
    lines.push(current);
  }
  return lines.join('\n');
}

function formatItem(term: string, termWidth: number, description: string, helpWidth: number): string {
  const remaining = helpWidth - termWidth - 4;
  const text =
    remaining < MIN_WIDTH_TO_WRAP || /\n[^\S\r\n]/.test(description)
      ? description
      : boxWrap(description, remaining).replace(/\n/g, `\n${' '.repeat(termWidth + 2)}`);
  return `  ${term.padEnd(termWidth)}  ${text.replace(/\n/g, '\n  ')}`;
}

/** The program's help text at `helpWidth` columns (commander's default is 80). */
export function topLevelHelp(entries: CommandEntry[], helpWidth = 80): string {
  const options: [string, string][] = [
    ['-V, --version', 'output the version number'],
    ...GLOBAL_OPTIONS.map((option): [string, string] => [option.flags, option.description]),
    ['-h, --help', 'display help for command'],
  ];
  const groups = new Map<string, [string, string][]>();
  for (const entry of entries.filter((e) => !e.hidden)) {
    const items = groups.get(entry.group) ?? [];
    items.push([entry.name, entry.summary]);
    groups.set(entry.group, items);
  }
  const helpItems = groups.get(HELP_GROUP) ?? [];
  helpItems.push(['help [command]', 'display help for command']);
  groups.set(HELP_GROUP, helpItems);

  const termWidth = Math.max(
    ...options.map(([t]) => t.length),
    ...[...groups.values()].flat().map(([t]) => t.length),
  );
  const output = ['Usage: berth [options] [command]', '', boxWrap(DESCRIPTION, helpWidth), '', 'Options:'];
  for (const [term, text] of options) output.push(formatItem(term, termWidth, text, helpWidth));
  output.push('');
  for (const [heading, items] of groups) {
    output.push(heading);
    for (const [term, text] of items) output.push(formatItem(term, termWidth, text, helpWidth));
    output.push('');
  }
  return output.join('\n');
}

export function printTopLevelHelp(): void {
  const width = process.stdout.isTTY ? process.stdout.columns : undefined;
  process.stdout.write(topLevelHelp(COMMANDS, width));
}
