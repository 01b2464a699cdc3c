// Bundles the CLI into dist/bundle/, which bin/berth.js loads when it is at least as new as tsc's
// output in dist/ (`npm run build` runs tsc, then this). One ES module graph of a few files
// compiles much faster than hundreds: Node resolves, reads and compiles each module of dist/
// and of zod on its own. The bundle is split at every dynamic import, so a command still loads
// only its own code; each command's module keeps its path (dist/bundle/cli/commands/NAME.js).
// Packages that are large and needed by few commands (the AWS SDK, fastify, prom-client) or
// native (better-sqlite3) stay in node_modules and load from there when used.
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

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  // What each output holds (for a closer look: https://esbuild.github.io/analyze/).
  metafile: Boolean(process.env.BUNDLE_METAFILE),
  absWorkingDir: ROOT,
  entryPoints: [`${ROOT}src/cli/main.ts`, ...commands],
  outbase: `${ROOT}src`,
  outdir: OUT,
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Stack traces of real bugs stay readable: bin/berth.js turns on source maps for them.
  sourcemap: 'linked',
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS code in the bundle (yaml's helpers) may call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
  },
  plugins: [
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
  ],
});
if (process.env.BUNDLE_METAFILE) writeFileSync(process.env.BUNDLE_METAFILE, JSON.stringify(result.metafile));
