import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'berth-source-maps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** tsc's build of src/cli/source-maps.ts (the tests run after `npm run build`). */
const SOURCE_MAPS = new URL('../../dist/cli/source-maps.js', import.meta.url).href;
const CODE_CACHE = new URL('../../bin/code-cache.js', import.meta.url).href;

describe('stack traces of the bundled CLI', () => {
  it("name the TypeScript file and line of a bug, not the bundle's", async () => {
    const source = join(dir, 'bug.ts');
    writeFileSync(
      source,
      [
        '// a module with a bug',
        'export function buggy(): never {',
        "  throw new Error('boom');",
        '}',
        '',
      ].join('\n'),
    );
    const bundle = join(dir, 'out', 'bug.js');
    // Built as scripts/bundle-cli.mjs builds the CLI: one line of code, a linked map.
    await build({
      entryPoints: [source],
      outfile: bundle,
      bundle: true,
      format: 'esm',
      platform: 'node',
      sourcemap: 'linked',
      minifyWhitespace: true,
      logLevel: 'error',
    });
    const script = [
      `import { installSourceMappedStacks } from ${JSON.stringify(SOURCE_MAPS)};`,
      'installSourceMappedStacks();',
      `const { buggy } = await import(${JSON.stringify(pathToFileURL(bundle).href)});`,
      'try { buggy(); } catch (error) { console.log(error.stack); }',
    ].join('\n');
    const stack = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(stack).toMatch(/^Error: boom\n/);
    expect(stack).toContain(`at buggy (${source}:3:9)`);
    expect(stack).not.toContain('bug.js');
  });
});

describe('stack traces of the CommonJS bundle run with the code cache', () => {
  it('name the TypeScript file and line of a bug, on the run that writes the cache and the one that uses it', async () => {
    const source = join(dir, 'bug-cjs.ts');
    writeFileSync(
      source,
      [
        '// a module with a bug',
        'function buggy(): never {',
        "  throw new Error('boom');",
        '}',
        'try { buggy(); } catch (error) { console.log((error as Error).stack); }',
        '',
      ].join('\n'),
    );
    const bundle = join(dir, 'out', 'bug.cjs');
    // Built as scripts/bundle-cli.mjs builds cli.cjs.
    await build({
      entryPoints: [source],
      outfile: bundle,
      bundle: true,
      format: 'cjs',
      platform: 'node',
      sourcemap: 'linked',
      minifyWhitespace: true,
      logLevel: 'error',
    });
    const script = [
      `import { statSync } from 'node:fs';`,
      `import { installSourceMappedStacks } from ${JSON.stringify(SOURCE_MAPS)};`,
      `import { runWithCodeCache } from ${JSON.stringify(CODE_CACHE)};`,
      'installSourceMappedStacks();',
      `const url = new URL(${JSON.stringify(pathToFileURL(bundle).href)});`,
      "runWithCodeCache(url, statSync(url), ['bug']);",
    ].join('\n');
    for (let run = 0; run < 2; run++) {
      const stack = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: { ...process.env, BERTH_CODE_CACHE_DIR: join(dir, 'code-cache') },
      });
      expect(stack).toMatch(/^Error: boom\n/);
      expect(stack).toContain(`at buggy (${source}:3:9)`);
      expect(stack).not.toContain('bug.cjs');
    }
  });
});
