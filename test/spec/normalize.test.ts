import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { normalizeServiceSpec, type NormalizeOptions } from '../../src/spec/normalize.js';
import type { Diagnostic } from '../../src/spec/types.js';

const ENV_NAMES = ['local', 'staging', 'production'];
const BASE_DIR = '/srv/app';

function normalize(raw: unknown, opts: Partial<NormalizeOptions> = {}) {
  return normalizeServiceSpec(raw, { env: 'staging', envNames: ENV_NAMES, baseDir: BASE_DIR, ...opts });
}

function errors(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === 'error');
}

/** The single error at `path`, failing the test when there is none. */
function errorAt(raw: unknown, path: string, opts: Partial<NormalizeOptions> = {}): Diagnostic {
  const result = normalize(raw, opts);
  expect(result.config).toBeUndefined();
  const found = errors(result.diagnostics).filter((d) => d.path === path);
  expect(found, JSON.stringify(result.diagnostics, null, 2)).toHaveLength(1);
  return found[0]!;
}

const minimal = { name: 'web', run: { command: ['node', 'server.js'] } };

describe('normalizeServiceSpec: defaults', () => {
  it('fills every default for a minimal spec', () => {
    const result = normalize(minimal);
    expect(result.diagnostics).toEqual([]);
    expect(result.config).toEqual({
      name: 'web',
      run: { command: ['node', 'server.js'], cwd: BASE_DIR },
      port: 8080,
      replicas: 1,
      health: { path: '/', intervalMs: 2000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
      domains: [],
      env: {},
      protection: { deletion: false },
      drift: 'heal',
    });
    expect(result.config).not.toHaveProperty('image');
  });

  it('accepts an image instead of run', () => {
    const result = normalize({ name: 'web', image: 'ghcr.io/acme/web:1.0' });
    expect(result.config?.image).toBe('ghcr.io/acme/web:1.0');
    expect(result.config?.run).toBeUndefined();
  });

  it('takes the drift default from the environment when the spec does not say', () => {
    expect(normalize(minimal, { defaults: { drift: 'report' } }).config?.drift).toBe('report');
    expect(normalize({ ...minimal, drift: 'heal' }, { defaults: { drift: 'report' } }).config?.drift).toBe(
      'heal',
    );
  });

  it('treats an empty block (key with no value) as empty', () => {
    const result = normalize({ ...minimal, env: null, health: null, domains: null, environments: null });
    expect(result.diagnostics).toEqual([]);
    expect(result.config?.env).toEqual({});
  });

  it('resolves run.cwd against baseDir', () => {
    expect(normalize({ name: 'web', run: { command: 'node s.js', cwd: 'app' } }).config?.run?.cwd).toBe(
      path.resolve(BASE_DIR, 'app'),
    );
    expect(normalize({ name: 'web', run: { command: 'node s.js', cwd: '/opt/x' } }).config?.run?.cwd).toBe(
      '/opt/x',
    );
  });
});

describe('normalizeServiceSpec: run.command', () => {
  it('splits a string into argv without a shell', () => {
    const result = normalize({ name: 'web', run: { command: `node "my server.js" --flag='a b' $HOME` } });
    expect(result.config?.run?.command).toEqual(['node', 'my server.js', '--flag=a b', '$HOME']);
  });

  it('keeps shell syntax as literal arguments, with a warning', () => {
    const result = normalize({ name: 'web', run: { command: '; rm -rf /' } });
    expect(result.config?.run?.command).toEqual([';', 'rm', '-rf', '/']);
    expect(result.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'warning',
        path: 'run.command',
        message: expect.stringContaining('without a shell'),
      }),
    ]);
  });

  it('turns number and boolean arguments into strings, with a warning', () => {
    const result = normalize({ name: 'web', run: { command: ['sleep', 10] } });
    expect(result.config?.run?.command).toEqual(['sleep', '10']);
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', path: 'run.command.1' }),
    ]);
  });

  it.each([
    ['', 'run.command'],
    ['   ', 'run.command'],
    [[], 'run.command'],
    [null, 'run.command'],
    [42, 'run.command'],
    [['node', ''], 'run.command.1'],
    [['node', { a: 1 }], 'run.command.1'],
    [['node', 'a\0b'], 'run.command.1'],
  ])('rejects command %j at %s', (command, at) => {
    const diagnostic = errorAt({ name: 'web', run: { command } }, at);
    expect(diagnostic.hint).toBeTruthy();
  });

  it('requires run.command when run is given', () => {
    const diagnostic = errorAt({ name: 'web', run: { cwd: 'x' } }, 'run.command');
    expect(diagnostic.message).toBe('is required');
    expect(diagnostic.hint).toMatch(/command: \[node, server\.js\]/);
  });

  it('needs run or image, with a hint about the local provider', () => {
    const diagnostic = errorAt({ name: 'web' }, 'run');
    expect(diagnostic.hint).toMatch(/add run\.command for the local provider/);
  });

  it('is satisfied by run in the selected environment override only', () => {
    const raw = { name: 'web', environments: { staging: { run: { command: 'node s.js' } } } };
    expect(normalize(raw).config?.run?.command).toEqual(['node', 's.js']);
    expect(normalize(raw, { env: 'production' }).config).toBeUndefined();
  });
});

describe('normalizeServiceSpec: each invalid field has its path and a hint', () => {
  const cases: [string, Record<string, unknown>, string, RegExp?][] = [
    ['uppercase name', { name: 'Web' }, 'name', /try name: web/],
    ['name with underscore', { name: 'my_web' }, 'name', /try name: my-web/],
    ['leading dash', { name: '-web' }, 'name'],
    ['trailing dash', { name: 'web-' }, 'name'],
    ['41-character name', { name: 'a'.repeat(41) }, 'name'],
    ['numeric name', { name: 42 }, 'name'],
    ['empty image', { image: '' }, 'image'],
    ['image with spaces', { image: 'my image' }, 'image'],
    ['port 0', { port: 0 }, 'port'],
    ['port 65536', { port: 65536 }, 'port'],
    ['quoted port', { port: '8080' }, 'port', /without quotes/],
    ['port 80.5', { port: 80.5 }, 'port'],
    ['replicas -1', { replicas: -1 }, 'replicas'],
    ['replicas 101', { replicas: 101 }, 'replicas'],
    ['replicas 1.5', { replicas: 1.5 }, 'replicas'],
    ['replicas Infinity', { replicas: Infinity }, 'replicas'],
    ['health path without /', { health: { path: 'healthz' } }, 'health.path', /\/healthz/],
    ['bad interval', { health: { interval: 'soon' } }, 'health.interval', /ms, s, m or h/],
    ['zero interval', { health: { interval: '0s' } }, 'health.interval'],
    ['negative timeout', { health: { timeout: -1 } }, 'health.timeout'],
    ['healthyThreshold 0', { health: { healthyThreshold: 0 } }, 'health.healthyThreshold'],
    ['unhealthyThreshold 11', { health: { unhealthyThreshold: 11 } }, 'health.unhealthyThreshold'],
    [
      'timeout = interval',
      { health: { interval: '1s', timeout: '1s' } },
      'health.timeout',
      /lower health\.timeout/,
    ],
    ['timeout > default interval', { health: { timeout: '5s' } }, 'health.timeout'],
    ['domain with scheme', { domains: ['https://x.example.com'] }, 'domains.0', /without a scheme/],
    ['domain wildcard', { domains: ['*.example.com'] }, 'domains.0'],
    ['duplicate domain', { domains: ['a.example.com', 'A.Example.com'] }, 'domains.1', /duplicate/],
    ['domains not a list', { domains: 'a.example.com' }, 'domains'],
    ['env var name with dash', { env: { 'MY-VAR': 'x' } }, 'env.MY-VAR', /letters, digits and "_"/],
    ['env var name starting with digit', { env: { '1X': 'x' } }, 'env.1X'],
    ['PORT in env', { env: { PORT: '3000' } }, 'env.PORT', /port:/],
    ['env value a list', { env: { A: [1] } }, 'env.A', /quote/],
    ['env value missing', { env: { A: null } }, 'env.A', /A: ""/],
    ['env a list', { env: ['A=1'] }, 'env'],
    ['deletion "yes"', { protection: { deletion: 'yes' } }, 'protection.deletion', /true or false/],
    ['drift fix', { drift: 'fix' }, 'drift', /heal/],
    ['environments a list', { environments: ['staging'] }, 'environments'],
    ['override not a mapping', { environments: { staging: 3 } }, 'environments.staging'],
    [
      'override replicas',
      { environments: { production: { replicas: 200 } } },
      'environments.production.replicas',
    ],
    [
      'override health',
      { environments: { production: { health: { path: 'x' } } } },
      'environments.production.health.path',
    ],
    [
      'override timeout vs base interval',
      {
        health: { interval: '1s', timeout: '500ms' },
        environments: { production: { health: { timeout: '2s' } } },
      },
      'environments.production.health.timeout',
    ],
    ['override name', { environments: { staging: { name: 'x' } } }, 'environments.staging.name', /top level/],
    [
      'unknown environment',
      { environments: { prod: {} } },
      'environments.prod',
      /did you mean "production"\?.*local, staging, production/,
    ],
    ['unknown top-level key', { replica: 2 }, 'replica', /did you mean "replicas"\?/],
    ['misplaced key', { command: 'x' }, 'command', /did you mean "run.command"\?/],
    ['unknown health key', { health: { intervall: '2s' } }, 'health.intervall', /did you mean "interval"\?/],
    ['unknown run key', { run: { command: 'x', args: [] } }, 'run.args'],
    [
      'unknown override key',
      { environments: { staging: { replcas: 2 } } },
      'environments.staging.replcas',
      /"replicas"/,
    ],
    ['unrelated unknown key', { zzz: 1 }, 'zzz', /known keys here: name, run/],
    ['__proto__ key', JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>, '__proto__'],
  ];

  it.each(cases)('%s', (_label, fields, at, hint) => {
    const diagnostic = errorAt({ ...minimal, ...fields }, at);
    expect(diagnostic.message.length).toBeGreaterThan(0);
    expect(diagnostic.hint, `no hint for ${at}`).toBeTruthy();
    if (hint) expect(diagnostic.hint).toMatch(hint);
  });

  it('says what it got', () => {
    expect(errorAt({ ...minimal, replicas: 101 }, 'replicas').message).toBe(
      'must be a whole number from 0 to 100, got 101',
    );
    expect(errorAt({ ...minimal, health: { interval: '2 secs' } }, 'health.interval').message).toBe(
      'must be a duration like "2s" or "500ms", got "2 secs"',
    );
  });

  it('is safe with keys named like Object.prototype members', () => {
    const result = normalize(
      { ...minimal, env: { constructor: 'x', toString: 'y' } },
      { env: 'constructor' },
    );
    expect(result.diagnostics).toEqual([]);
    expect(result.config?.env).toEqual({ constructor: 'x', toString: 'y' });
    expect(errorAt({ ...minimal, constructor: 1 }, 'constructor').hint).toMatch(/known keys/);
  });
});

describe('normalizeServiceSpec: all problems at once', () => {
  it('reports every problem in one pass and never throws', () => {
    const raw = {
      name: 'Bad_Name',
      run: { command: '' },
      port: 0,
      replicas: -3,
      health: { path: 'x', interval: 'often', healthyThreshold: 0 },
      domains: ['not a host'],
      env: { PORT: '1', 'BAD-NAME': 'x' },
      protection: { deletion: 'no' },
      drift: 'maybe',
      environments: { qa: {}, production: { replicas: 1000, extra: true } },
      colour: 'red',
    };
    const result = normalize(raw);
    expect(result.config).toBeUndefined();
    expect(
      errors(result.diagnostics)
        .map((d) => d.path)
        .sort(),
    ).toEqual(
      [
        'name',
        'run.command',
        'port',
        'replicas',
        'health.path',
        'health.interval',
        'health.healthyThreshold',
        'domains.0',
        'env.PORT',
        'env.BAD-NAME',
        'protection.deletion',
        'drift',
        'environments.qa',
        'environments.production.replicas',
        'environments.production.extra',
        'colour',
      ].sort(),
    );
    for (const d of result.diagnostics) expect(d.hint, d.path).toBeTruthy();
  });

  it('reports timing errors even when other fields are broken', () => {
    const result = normalize({ ...minimal, port: -1, health: { interval: '1s', timeout: '3s' } });
    expect(errors(result.diagnostics).map((d) => d.path)).toEqual(['port', 'health.timeout']);
  });

  it.each([null, undefined, 42, 'text', ['name', 'web'], true])(
    'rejects a %j document as not a mapping',
    (raw) => {
      const result = normalize(raw);
      expect(result.config).toBeUndefined();
      expect(result.diagnostics).toEqual([
        expect.objectContaining({
          severity: 'error',
          path: '',
          message: expect.stringMatching(/must be a mapping/),
        }),
      ]);
    },
  );
});

describe('normalizeServiceSpec: environment overrides', () => {
  const raw = {
    name: 'api',
    run: { command: 'node server.js' },
    replicas: 2,
    health: { path: '/ready', interval: '3s', timeout: '1s' },
    domains: ['api.example.com'],
    env: { LEVEL: 'info', REGION: 'eu' },
    environments: {
      production: {
        replicas: 6,
        image: 'ghcr.io/acme/api:2',
        port: 9000,
        health: { unhealthyThreshold: 5 },
        domains: ['API.example.org'],
        env: { LEVEL: 'warn' },
        protection: { deletion: true },
        drift: 'report',
      },
      staging: { run: { command: ['node', 'server.js', '--staging'], cwd: 'staging' } },
    },
  };

  it('applies the selected environment, merging health and env', () => {
    const spec = normalize(raw, { env: 'production' }).config!;
    expect(spec).toMatchObject({
      replicas: 6,
      image: 'ghcr.io/acme/api:2',
      port: 9000,
      health: {
        path: '/ready',
        intervalMs: 3000,
        timeoutMs: 1000,
        healthyThreshold: 1,
        unhealthyThreshold: 5,
      },
      domains: ['api.example.org'],
      env: { LEVEL: 'warn', REGION: 'eu' },
      protection: { deletion: true },
      drift: 'report',
      run: { command: ['node', 'server.js'], cwd: BASE_DIR },
    });
  });

  it('replaces run as a whole', () => {
    const spec = normalize(raw, { env: 'staging' }).config!;
    expect(spec.run).toEqual({
      command: ['node', 'server.js', '--staging'],
      cwd: path.join(BASE_DIR, 'staging'),
    });
    expect(spec.replicas).toBe(2);
  });

  it('uses the top level for an environment without overrides', () => {
    const spec = normalize(raw, { env: 'local' }).config!;
    expect(spec.replicas).toBe(2);
    expect(spec.env).toEqual({ LEVEL: 'info', REGION: 'eu' });
    expect(spec.image).toBeUndefined();
  });

  it('lists the valid environments when none are configured', () => {
    const diagnostic = errorAt({ ...minimal, environments: { staging: {} } }, 'environments.staging', {
      envNames: [],
    });
    expect(diagnostic.hint).toMatch(/no environments are configured/);
  });

  it('warns when env values are numbers or booleans, and coerces them', () => {
    const result = normalize({ ...minimal, env: { N: 3, B: false, S: 'x' } });
    expect(result.config?.env).toEqual({ N: '3', B: 'false', S: 'x' });
    expect(result.diagnostics.map((d) => [d.severity, d.path])).toEqual([
      ['warning', 'env.N'],
      ['warning', 'env.B'],
    ]);
  });
});

describe('normalizeServiceSpec: never throws', () => {
  const values: unknown[] = [
    null,
    undefined,
    0,
    -1,
    1.5,
    Infinity,
    Number.NaN,
    2 ** 64,
    '',
    ' ',
    'x',
    '2s',
    '\0',
    'a'.repeat(5000),
    [],
    [null],
    [1, 'a', {}],
    {},
    { a: { b: [1] } },
    true,
    new Date(0),
  ];
  const paths = [
    ['name'],
    ['run'],
    ['run', 'command'],
    ['run', 'cwd'],
    ['image'],
    ['port'],
    ['replicas'],
    ['health'],
    ['health', 'path'],
    ['health', 'interval'],
    ['health', 'timeout'],
    ['health', 'healthyThreshold'],
    ['domains'],
    ['env'],
    ['env', 'A'],
    ['protection'],
    ['protection', 'deletion'],
    ['drift'],
    ['environments'],
    ['environments', 'production'],
    ['environments', 'production', 'health'],
    ['environments', 'production', 'env'],
    ['environments', 'production', 'run'],
  ];

  it('returns diagnostics for any value in any field', () => {
    for (const fieldPath of paths) {
      for (const value of values) {
        const raw: Record<string, unknown> = structuredClone({
          ...minimal,
          health: {},
          env: {},
          protection: {},
          environments: { production: {} },
        });
        let target = raw;
        for (const key of fieldPath.slice(0, -1)) target = target[key] as Record<string, unknown>;
        target[fieldPath.at(-1)!] = value;
        for (const env of ['production', 'staging']) {
          const result = normalize(raw, { env });
          for (const d of result.diagnostics) {
            expect(typeof d.path).toBe('string');
            expect(d.message).not.toMatch(/\n/);
            expect(d.message.length).toBeLessThan(300);
          }
          if (!result.config) expect(errors(result.diagnostics).length).toBeGreaterThan(0);
        }
      }
    }
  });
});
