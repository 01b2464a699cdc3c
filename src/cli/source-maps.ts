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

/** Makes every stack trace formatted from now on map positions through the files' source maps. */
export function installSourceMappedStacks(): void {
  // Node maps them already (--enable-source-maps, or NODE_OPTIONS with it).
  if ((process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return;
  Error.prepareStackTrace = (error, frames) =>
    header(error) +
    frames
      .map(
        (frame) => `\n    at ${String(frame).replace(/(file:\/\/[^\s()]+?\.c?js):(\d+):(\d+)/g, original)}`,
      )
      .join('');
}
