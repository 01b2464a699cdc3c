import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { loadServiceSpec } from '../../src/spec/load.js';

/**
 * Malformed berth.yaml files. They end in .txt so that formatters leave them byte for byte as they are
 * (several are deliberately broken YAML); loadServiceSpec reads any file path it is given.
 */
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/specs');
const OPTS = { env: 'staging', envNames: ['local', 'staging', 'production'] };

/** What loading each malformed fixture must report: error paths (in file order) and, optionally, lines. */
const EXPECTED: Record<string, { paths: string[]; lines?: number[]; message?: RegExp; hint?: RegExp }> = {
  'broken-yaml.yaml.txt': { paths: ['', ''], message: /^YAML: / },
  'tabs.yaml.txt': { paths: [''], lines: [3], message: /Tabs/, hint: /spaces/ },
  'duplicate-keys.yaml.txt': { paths: [''], lines: [5], message: /unique/ },
  'wrong-types.yaml.txt': {
    paths: ['port', 'replicas', 'health', 'domains', 'env', 'protection', 'drift'],
    lines: [4, 5, 6, 7, 8, 9, 10],
  },
  'unknown-keys.yaml.txt': {
    paths: ['run.cwdir', 'replica', 'helth', 'command'],
    lines: [4, 5, 6, 8],
    hint: /did you mean/,
  },
  'name-uppercase.yaml.txt': { paths: ['name'], lines: [1], hint: /try name: shop/ },
  'name-too-long.yaml.txt': { paths: ['name'], lines: [1] },
  'name-leading-dash.yaml.txt': { paths: ['name'], lines: [1], hint: /try name: shop/ },
  'replicas-negative.yaml.txt': { paths: ['replicas'], lines: [4], message: /got -1/ },
  'replicas-too-many.yaml.txt': { paths: ['replicas'], lines: [4], message: /got 101/ },
  'replicas-fraction.yaml.txt': { paths: ['replicas'], lines: [4], message: /whole number/ },
  'empty-command.yaml.txt': { paths: ['run.command'], lines: [3], message: /empty/ },
  'empty-command-list.yaml.txt': { paths: ['run.command'], lines: [3] },
  'timeout-not-shorter.yaml.txt': { paths: ['health.timeout'], lines: [6], message: /shorter than interval/ },
  'bad-env-name.yaml.txt': { paths: ['env.1ST', 'env.MY-VAR'], lines: [5, 6] },
  'port-in-env.yaml.txt': { paths: ['env.PORT'], lines: [5], hint: /port:/ },
  'unknown-environment.yaml.txt': { paths: ['environments.prod'], lines: [5], hint: /production/ },
  'empty.yaml.txt': { paths: [''], message: /is empty/ },
  'only-comment.yaml.txt': { paths: [''], message: /is empty/ },
  'list-document.yaml.txt': { paths: [''], message: /must be a mapping .*got a list/ },
  'scalar-document.yaml.txt': { paths: [''], message: /must be a mapping/ },
  'huge-numbers.yaml.txt': {
    paths: ['port', 'replicas', 'health.interval', 'health.healthyThreshold'],
    lines: [4, 5, 7, 8],
  },
  'missing-name-and-run.yaml.txt': { paths: ['name', 'run'] },
  'alias-bomb.yaml.txt': { paths: [''], message: /alias/i },
  'proto-keys.yaml.txt': { paths: ['__proto__', 'env.__proto__'], lines: [4, 7] },
  'bad-domains.yaml.txt': { paths: ['domains.1', 'domains.2', 'domains.3'], lines: [6, 7, 8] },
};

describe('malformed berth.yaml fixtures', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml.txt'));

  it('has an expectation for every fixture (and at least 12 of them)', () => {
    expect(files.filter((f) => f !== 'shell-injection.yaml.txt').sort()).toEqual(
      Object.keys(EXPECTED).sort(),
    );
    expect(Object.keys(EXPECTED).length).toBeGreaterThanOrEqual(12);
  });

  it.each(Object.entries(EXPECTED))(
    '%s is rejected with diagnostics, without throwing',
    async (file, expected) => {
      const loaded = await loadServiceSpec(path.join(FIXTURES, file), OPTS);
      expect(loaded.config).toBeUndefined();
      expect(loaded.file).toBe(path.join(FIXTURES, file));
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
      expect(errors.map((d) => d.path)).toEqual(expected.paths);
      if (expected.lines) expect(errors.map((d) => d.line)).toEqual(expected.lines);
      for (const d of errors) {
        expect(d.hint, `${file} ${d.path}: ${d.message}`).toBeTruthy();
        expect(d.message).not.toMatch(/\n|at Object\.|Error:/);
        if (expected.message) expect(d.message).toMatch(expected.message);
        if (expected.hint) expect(d.hint).toMatch(expected.hint);
      }
    },
  );

  it('parses a command of "; rm -rf /" as literal argv, never through a shell', async () => {
    const loaded = await loadServiceSpec(path.join(FIXTURES, 'shell-injection.yaml.txt'), OPTS);
    expect(loaded.config?.run).toEqual({ command: [';', 'rm', '-rf', '/'], cwd: FIXTURES });
    expect(loaded.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'warning',
        path: 'run.command',
        line: 4,
        message: expect.stringMatching(/without a shell/),
      }),
    ]);
  });

  it('does not let __proto__ keys pollute prototypes', async () => {
    const loaded = await loadServiceSpec(path.join(FIXTURES, 'proto-keys.yaml.txt'), OPTS);
    expect(loaded.diagnostics.length).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
