import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { formatDiagnostics, loadServiceSpec } from '../../src/spec/load.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENV_NAMES = ['local', 'staging', 'production'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-spec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeSpec(name: string, text: string): Promise<string> {
  const sub = path.join(dir, name);
  await mkdir(sub, { recursive: true });
  await writeFile(path.join(sub, 'berth.yaml'), text);
  return sub;
}

describe('the examples', () => {
  it('hello normalizes cleanly', async () => {
    const loaded = await loadServiceSpec(path.join(ROOT, 'examples/hello'), {
      env: 'production',
      envNames: ENV_NAMES,
    });
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.file).toBe(path.join(ROOT, 'examples/hello/berth.yaml'));
    expect(loaded.config).toEqual({
      name: 'hello',
      run: { command: ['node', 'server.js'], cwd: path.join(ROOT, 'examples/hello') },
      port: 8080,
      replicas: 2,
      health: {
        path: '/healthz',
        intervalMs: 2000,
        timeoutMs: 1000,
        healthyThreshold: 1,
        unhealthyThreshold: 3,
      },
      domains: [],
      env: { GREETING: 'hello' },
      protection: { deletion: false },
      drift: 'heal',
    });
  });

  const shop = (env: string) =>
    loadServiceSpec(path.join(ROOT, 'examples/shop/berth.yaml'), { env, envNames: ENV_NAMES });
  const shopHealth = {
    path: '/ready',
    intervalMs: 1000,
    timeoutMs: 500,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
  };

  it('shop for production: 4 replicas and deletion protection', async () => {
    const loaded = await shop('production');
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.config).toEqual({
      name: 'shop',
      run: { command: ['node', 'server.js'], cwd: path.join(ROOT, 'examples/shop') },
      port: 8080,
      replicas: 4,
      health: shopHealth,
      domains: ['shop.example.test'],
      env: { CURRENCY: 'EUR' },
      protection: { deletion: true },
      drift: 'heal',
    });
  });

  it('shop for staging: USD, 3 replicas, no protection', async () => {
    const loaded = await shop('staging');
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.config).toMatchObject({
      replicas: 3,
      env: { CURRENCY: 'USD' },
      protection: { deletion: false },
      health: shopHealth,
    });
  });

  it('shop for local: the top-level values', async () => {
    const loaded = await shop('local');
    expect(loaded.config).toMatchObject({
      replicas: 3,
      env: { CURRENCY: 'EUR' },
      protection: { deletion: false },
    });
  });
});

describe('loadServiceSpec', () => {
  it('reports a missing file with a hint', async () => {
    const loaded = await loadServiceSpec(path.join(dir, 'nowhere'), { env: 'local', envNames: ENV_NAMES });
    expect(loaded.config).toBeUndefined();
    expect(loaded.file).toBe(path.join(dir, 'nowhere', 'berth.yaml'));
    expect(loaded.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        path: '',
        message: expect.stringMatching(/no berth\.yaml/),
      }),
    ]);
    expect(loaded.diagnostics[0]!.hint).toMatch(/create berth\.yaml/);
  });

  it('reports a directory without berth.yaml', async () => {
    await mkdir(path.join(dir, 'emptydir'));
    const loaded = await loadServiceSpec(path.join(dir, 'emptydir'), { env: 'local', envNames: ENV_NAMES });
    expect(loaded.diagnostics[0]!.message).toMatch(/no berth\.yaml/);
  });

  it('accepts a file path with another name', async () => {
    const file = path.join(dir, 'custom.yml');
    await writeFile(file, 'name: custom\nimage: nginx:1.27\n');
    const loaded = await loadServiceSpec(file, { env: 'local', envNames: ENV_NAMES });
    expect(loaded.config?.image).toBe('nginx:1.27');
    expect(loaded.file).toBe(file);
  });

  it('reports every YAML syntax error with its line', async () => {
    const sub = await writeSpec('syntax', 'name: x\nrun:\n  command: [a, b\nenv:\n  A: "unclosed\n');
    const loaded = await loadServiceSpec(sub, { env: 'local', envNames: ENV_NAMES });
    expect(loaded.config).toBeUndefined();
    expect(loaded.diagnostics.length).toBeGreaterThanOrEqual(2);
    for (const d of loaded.diagnostics) {
      expect(d.line).toBeGreaterThan(0);
      expect(d.message).toMatch(/^YAML: [^\n]+$/);
    }
  });

  it('resolves run.cwd against the directory of berth.yaml and warns when it is missing', async () => {
    const sub = await writeSpec('cwd', 'name: x\nrun:\n  command: node s.js\n  cwd: app\n');
    const loaded = await loadServiceSpec(sub, { env: 'local', envNames: ENV_NAMES });
    expect(loaded.config?.run?.cwd).toBe(path.join(sub, 'app'));
    expect(loaded.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', path: 'run.cwd', line: 4 }),
    ]);
    await mkdir(path.join(sub, 'app'));
    expect((await loadServiceSpec(sub, { env: 'local', envNames: ENV_NAMES })).diagnostics).toEqual([]);
  });

  it('orders diagnostics by line and points at keys of nested overrides', async () => {
    const sub = await writeSpec(
      'lines',
      [
        'name: x',
        'run: { command: [node, s.js] }',
        'environments:',
        '  production:',
        '    replicas: 500',
        '    health:',
        '      interval: never',
        'port: 0',
      ].join('\n'),
    );
    const loaded = await loadServiceSpec(sub, { env: 'local', envNames: ENV_NAMES });
    expect(loaded.diagnostics.map((d) => [d.path, d.line])).toEqual([
      ['environments.production.replicas', 5],
      ['environments.production.health.interval', 7],
      ['port', 8],
    ]);
  });

  it('refuses an oversized file', async () => {
    const sub = await writeSpec('big', `name: x\n# ${'x'.repeat(1024 * 1024)}\n`);
    const loaded = await loadServiceSpec(sub, { env: 'local', envNames: ENV_NAMES });
    expect(loaded.diagnostics[0]!.message).toMatch(/too large/);
  });
});

describe('formatDiagnostics', () => {
  it('writes file:line path: message (hint: ...)', () => {
    expect(
      formatDiagnostics('berth.yaml', [
        {
          severity: 'error',
          path: 'health.interval',
          message: 'must be a duration like "2s" or "500ms"',
          hint: 'write 2s',
          line: 7,
        },
        { severity: 'error', path: '', message: 'berth.yaml is empty' },
        { severity: 'warning', path: 'env.N', message: 'coerced', line: 3 },
      ]),
    ).toEqual([
      'berth.yaml:7 health.interval: must be a duration like "2s" or "500ms" (hint: write 2s)',
      'berth.yaml berth.yaml is empty',
      'berth.yaml:3 env.N: coerced',
    ]);
  });
});
