import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { buildProgram, commandName, commandWords } from '../../src/cli/registry.js';
import { topLevelHelp } from '../../src/cli/quick-help.js';
import { BERTH_BIN } from '../helpers/cli.js';

const MODULE_LOG = fileURLToPath(new URL('../helpers/module-log.mjs', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
const codeCacheDir = join(dataDir, 'code-cache');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The modules `berth ARGS` resolves, as URLs. */
/**
 * The modules `berth ARGS` resolves (ES modules and require()s), as URLs. `esm`: from the bundle
 * of ES modules (BERTH_CODE_CACHE=0), where each command is a file of its own; by default the CLI
 * runs from its one CommonJS file with V8's code cache.
 */
function modulesLoadedBy(args: string[], { esm = false } = {}): string[] {
  const log = join(dataDir, `modules-${args.join('_').replace(/\W/g, '')}${esm ? '-esm' : ''}.log`);
  execFileSync(process.execPath, ['--import', MODULE_LOG, BERTH_BIN, ...args], {
    env: {
      ...process.env,
      BERTH_MODULE_LOG: log,
      BERTH_HOME: dataDir,
      BERTH_CODE_CACHE_DIR: codeCacheDir,
      NO_COLOR: '1',
      ...(esm ? { BERTH_CODE_CACHE: '0' } : {}),
    },
    stdio: 'ignore',
  });
  return readFileSync(log, 'utf8').trim().split('\n');
}

const HEAVY = ['/zod/', '@aws-sdk', '/fastify/', 'better-sqlite3', '/dist/engine/', '/dist/runtime/'];
/** A command's own module, from tsc's output (dist/cli/commands) or the bundle (dist/bundle/cli/commands). */
const COMMAND_MODULE = /\/dist\/(bundle\/)?cli\/commands\//;
const heavyIn = (modules: string[]) => modules.filter((url) => HEAVY.some((part) => url.includes(part)));

describe('the command registry', () => {
  it("lists each command by its module's own name and summary", async () => {
    for (const entry of COMMANDS) {
      const spec = await entry.load();
      expect({ name: spec.name, summary: spec.summary }).toEqual({
        name: entry.name,
        summary: entry.summary,
      });
    }
    const names = COMMANDS.map((entry) => commandName(entry.name));
    expect(new Set(names).size).toBe(names.length);
  });

  it('finds the command word after global options and their values', () => {
    expect(commandWords(['--env', 'staging', 'deploy', 'x'])).toEqual(['deploy']);
    expect(commandWords(['--json', 'status', '--env', 'local'])).toEqual(['status']);
    expect(commandWords(['--data-dir', '/d', 'help', 'deploy'])).toEqual(['help', 'deploy']);
    expect(commandWords(['--help'])).toEqual([]);
  });

  it('renders `berth --help` without commander exactly as commander does', async () => {
    const program = await buildProgram(COMMANDS, [], async () => {}, '0.0.0');
    for (const width of [80, 120, 60]) {
      program.configureOutput({ getOutHelpWidth: () => width });
      expect(topLevelHelp(COMMANDS, width)).toBe(program.helpInformation());
    }
  });
});

describe('start-up loads only what a command needs', () => {
  it('--version and --help load no command, no SDK, no server, no schema library', () => {
    for (const args of [['--version'], ['--help'], ['help']]) {
      const modules = modulesLoadedBy(args);
      expect(heavyIn(modules), args.join(' ')).toEqual([]);
      expect(modules.filter((url) => COMMAND_MODULE.test(url) && !url.endsWith('/index.js'))).toEqual([]);
    }
    expect(modulesLoadedBy(['--version']).filter((url) => url.includes('/node_modules/'))).toEqual([]);
  });

  it('a local command loads neither the AWS SDK nor the API server', () => {
    const modules = modulesLoadedBy(['env', 'ls', '--direct'], { esm: true });
    const commands = modules.filter((url) => COMMAND_MODULE.test(url));
    expect(commands.some((url) => url.endsWith('/cli/commands/env.js'))).toBe(true);
    expect(modules.filter((url) => url.includes('@aws-sdk') || url.includes('/fastify/'))).toEqual([]);
    expect(commands.some((url) => url.endsWith('/cli/commands/deploy.js'))).toBe(false);
    // The same from the CommonJS bundle, whose packages outside it are required when used.
    const required = modulesLoadedBy(['env', 'ls', '--direct']);
    expect(required.filter((url) => url.includes('@aws-sdk') || url.includes('/fastify/'))).toEqual([]);
  });

  it('runs from the bundle that `npm run build` makes', () => {
    const modules = modulesLoadedBy(['env', 'ls', '--direct'], { esm: true });
    expect(
      modules.filter((url) => url.includes('/dist/')).every((url) => url.includes('/dist/bundle/')),
      'bin/berth.js should load dist/bundle (run `npm run build`, not only tsc)',
    ).toBe(true);
    expect(modules.some((url) => url.endsWith('/dist/bundle/cli/main.js'))).toBe(true);
    const cached = modulesLoadedBy(['env', 'ls', '--direct']);
    expect(cached.some((url) => url.endsWith('/bin/code-cache.js'))).toBe(true);
    expect(cached.filter((url) => url.includes('/dist/'))).toEqual([]);
  });

  it("keeps V8's compiled code of each command, and uses it on the next run", () => {
    const run = () =>
      execFileSync(process.execPath, [BERTH_BIN, 'completion', 'bash'], {
        env: { ...process.env, BERTH_HOME: dataDir, BERTH_CODE_CACHE_DIR: codeCacheDir, NO_COLOR: '1' },
      }).toString();
    const first = run();
    const cache = join(codeCacheDir, 'completion.v8');
    const written = statSync(cache);
    expect(written.size).toBeGreaterThan(100_000);
    // Accepted by V8 on the next run, so not written again; the output is the same.
    expect(run()).toBe(first);
    expect(statSync(cache).mtimeMs).toBe(written.mtimeMs);
    // A cache V8 rejects (here: garbage after a valid key) is written again.
    const key = readFileSync(cache).subarray(0, 41);
    writeFileSync(cache, Buffer.concat([key, Buffer.from('not V8 data')]));
    expect(run()).toBe(first);
    expect(statSync(cache).size).toBeGreaterThan(100_000);
  });

  it('help for one command shows its own options and the global ones', () => {
    const result = spawnSync(process.execPath, [BERTH_BIN, 'deploy', '--help'], {
      env: { ...process.env, BERTH_HOME: dataDir },
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('--health-timeout <seconds>');
    expect(result.stdout).toMatch(/Global Options:[\s\S]*--env <name>[\s\S]*--json/);
  });
});
