// Runs the CLI's CommonJS bundle (dist/bundle/cli.cjs) with V8's code cache, as v8-compile-cache
// does for CommonJS: Node 20 has no compile cache (module.enableCompileCache is 22.1 and later),
// and compiling what a command runs cost a deploy about a fifth of its time (see README, "CLI
// start-up"). The cache is V8's compiled code after a run, so it holds the functions that this
// command ran, not only the top level: one file per command (`deploy`, `status`, ...) in the
// user's cache dir. It is used only for the same bundle (path, size, mtime) on the same Node and
// architecture, and V8 itself rejects data that does not fit the source or its flags; a missing or
// rejected cache is written again when the command ends. Writing is best effort: a read-only cache
// dir only costs the compile it would have saved.
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const HEADER = 41; // 40 hex digits of the key, then a newline

function cacheDir() {
  if (process.env.BERTH_CODE_CACHE_DIR) return process.env.BERTH_CODE_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'berth', 'code-cache');
}

/** The command's first word (`deploy`, `runtime`), which names its cache; anything else shares one. */
function commandWord(args) {
  const word = args.find((arg) => !arg.startsWith('-'));
  return word && /^[a-z][a-z0-9-]{0,31}$/.test(word) ? word : 'other';
}

function readCache(file, key) {
  try {
    const data = readFileSync(file);
    return data.subarray(0, HEADER).toString('latin1') === `${key}\n` ? data.subarray(HEADER) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `script`'s code cache, unless the cache dir cannot be written (then not even made). */
function writeCache(file, key, script) {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    accessSync(dirname(file), constants.W_OK);
  } catch {
    return;
  }
  try {
    writeFileSync(temporary, Buffer.concat([Buffer.from(`${key}\n`, 'latin1'), script.createCachedData()]));
    renameSync(temporary, file);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // never written
    }
  }
}

/**
 * Compiles and runs the bundle at `url` (its fs.Stats in `stat`) as Node's CommonJS loader would
 * (exports, require, module, __filename, __dirname), with the code cache of `args`'s command.
 */
export function runWithCodeCache(url, stat, args) {
  const filename = fileURLToPath(url);
  const key = createHash('sha1')
    .update([filename, stat.size, stat.mtimeMs, process.version, process.arch].join('\0'))
    .digest('hex');
  const file = join(cacheDir(), `${commandWord(args)}.v8`);
  const cachedData = readCache(file, key);
  const source = readFileSync(filename, 'utf8');
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {\n${source}\n})`,
    {
      // A file URL, as ES modules show theirs: stack traces name it, and the CLI maps them back to
      // the TypeScript sources with the bundle's source map when it prints an internal error.
      filename: url.href,
      lineOffset: -1,
      cachedData,
    },
  );
  if (!cachedData || script.cachedDataRejected) {
    // After the command ran, so that the cache holds the functions it compiled on the way.
    process.once('exit', () => writeCache(file, key, script));
  }
  const module = { exports: {}, filename, id: filename, loaded: false };
  script.runInThisContext()(module.exports, createRequire(filename), module, filename, dirname(filename));
}
