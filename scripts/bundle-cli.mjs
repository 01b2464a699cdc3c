// Bundles the CLI into dist/bundle/, which bin/berth.js loads when it is at least as new as tsc's
// output in dist/ (`npm run build` runs tsc, then this). Two builds of the same code:
// - dist/bundle/cli.cjs: the whole CLI as one CommonJS file, which bin/berth.js compiles with V8's
//   code cache (Node 20 has no compile cache for ES modules, and compiling the code a command
//   needs was a third of a deploy's start-up). Commands are still initialized only when they
//   run: esbuild wraps each module that is imported dynamically in a function called on import.
// - dist/bundle/cli/main.js and chunks/: ES modules split at every dynamic import, one file per
//   command (dist/bundle/cli/commands/NAME.js), loaded when the code cache is turned off
//   (BERTH_CODE_CACHE=0) or cannot be used.
// One module graph of a few files compiles much faster than hundreds: Node resolves, reads and
// compiles each module of dist/ and of zod on its own. Packages that are large and needed by few
// commands (the AWS SDK, fastify, prom-client) or native (better-sqlite3) stay in node_modules and
// load from there when used.
//   BUNDLE_METAFILE=meta.json node scripts/bundle-cli.mjs   also writes what each output holds
import { build } from 'esbuild';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = `${ROOT}dist/bundle`;

/** Packages compiled into the bundle: small, pure JavaScript, loaded by most commands. */
const BUNDLED = new Set(['commander', 'zod', 'yaml', 'picocolors', 'string-argv']);

const packageName = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const commands = readdirSync(`${ROOT}src/cli/commands`)
  .filter((file) => file.endsWith('.ts') && file !== 'index.ts')
  .map((file) => `${ROOT}src/cli/commands/${file}`);

const plugins = [
  {
    // commander loads child_process (and with it net, dgram, ...) at once, about 10 ms, only to
    // run executable subcommands, which berth has none of: load it if ever spawn is called.
    name: 'commander-lazy-child-process',
    setup(builder) {
      builder.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, ({ path }) => {
        const eager = "const childProcess = require('node:child_process');";
        const source = readFileSync(path, 'utf8');
        if (!source.includes(eager)) throw new Error(`${path} no longer has: ${eager}`);
        const lazy =
          "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
        return { contents: source.replace(eager, lazy), loader: 'js' };
      });
    },
  },
  {
    name: 'external-packages',
    setup(builder) {
      builder.onResolve({ filter: /^[^./]/ }, ({ path }) =>
        path.startsWith('node:') || BUNDLED.has(packageName(path)) ? undefined : { path, external: true },
      );
    },
  },
];

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Stack traces of real bugs stay readable: bin/berth.js turns on source maps for them.
  sourcemap: 'linked',
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins,
};

rmSync(OUT, { recursive: true, force: true });
const [esm] = await Promise.all([
  build({
    ...common,
    // What each output holds (for a closer look: https://esbuild.github.io/analyze/).
    metafile: Boolean(process.env.BUNDLE_METAFILE),
    entryPoints: [`${ROOT}src/cli/main.ts`, ...commands],
    outbase: `${ROOT}src`,
    outdir: OUT,
    entryNames: '[dir]/[name]',
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    format: 'esm',
    // CommonJS code in the bundle (yaml's helpers) may call require() for Node's own modules.
    banner: {
      js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
    },
  }),
  build({
    ...common,
    entryPoints: [`${ROOT}src/cli/main.ts`],
    outfile: `${OUT}/cli.cjs`,
    format: 'cjs',
    // import() of Node's own modules as require(): a script compiled from V8's cached data on
    // Node 20 loses its dynamic import callback.
    supported: { 'dynamic-import': false },
    // The code finds berth's files from its own place (core/package-root.ts): in this build, the
    // bundle's. bin/berth.js runs it with __filename set as Node's own CommonJS loader would.
    define: { 'import.meta.url': '__berthModuleUrl' },
    banner: { js: "const __berthModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  }),
]);
if (process.env.BUNDLE_METAFILE) writeFileSync(process.env.BUNDLE_METAFILE, JSON.stringify(esm.metafile));
