/**
 * Stack traces that point at the TypeScript sources, at no cost to start-up. The CLI runs from a
 * bundle (dist/bundle) whose positions mean nothing to a reader; Node's --enable-source-maps
 * would fix that, but it reads and parses every loaded file's map while loading, about 10 ms of
 * every command. Here a map is read only when a stack trace is actually formatted: when berth
 * prints an internal error, which is rare and then worth the milliseconds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const maps = new Map<string, SourceMap | null>();

function mapOf(fileUrl: string): SourceMap | null {
  let map = maps.get(fileUrl);
  if (map === undefined) {
    map = null;
    try {
      const file = `${fileURLToPath(fileUrl)}.map`;
      if (existsSync(file)) map = new SourceMap(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      // an unreadable or malformed map: keep the generated position
    }
    maps.set(fileUrl, map);
  }
  return map;
}

/** `file:///…/x.js:LINE:COLUMN` (or x.cjs, the CommonJS bundle) in the TypeScript source, when x.js has a map beside it. */
function original(location: string, fileUrl: string, line: string, column: string): string {
  const map = mapOf(fileUrl);
  const entry = map?.findEntry(Number(line) - 1, Number(column) - 1) as
    { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (entry?.originalSource === undefined) return location;
  const source = new URL(entry.originalSource, pathToFileURL(`${fileURLToPath(fileUrl)}.map`));
  const path = source.protocol === 'file:' ? fileURLToPath(source) : source.href;
  return `${path}:${entry.originalLine! + 1}:${entry.originalColumn! + 1}`;
}

function header(error: unknown): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return 'Error';
  }
}

/**
 * Errors that stop work on purpose: an abort (Ctrl-C, a long poll given up) or a timeout. Node
 * formats their stack when it destroys a socket with one, and reading the CLI bundle's map for
 * that cost `reconcile` about 100 ms of its stop; such a trace is never a bug's, so it keeps the
 * bundle's positions.
 */
const ON_PURPOSE = new Set(['AbortError', 'TimeoutError']);

function onPurpose(error: unknown): boolean {
  try {
    return ON_PURPOSE.has(String((error as { name?: unknown } | null)?.name));
  } catch {
    return false;
  }
}

/**
 * Makes every stack trace formatted from now on map positions through the files' source maps
 * (but an abort's or a timeout's, see ON_PURPOSE).
 */
export function installSourceMappedStacks(): void {
  // Node maps them already (--enable-source-maps, or NODE_OPTIONS with it).
  if ((process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return;
  Error.prepareStackTrace = (error, frames) => {
    const map = !onPurpose(error);
    return (
      header(error) +
      frames
        .map((frame) => {
          const location = String(frame);
          return `\n    at ${map ? location.replace(/(file:\/\/[^\s()]+?\.c?js):(\d+):(\d+)/g, original) : location}`;
        })
        .join('')
    );
  };
}
