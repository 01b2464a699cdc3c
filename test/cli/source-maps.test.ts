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
