import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { UserError } from '../../src/core/errors.js';
import {
  CONFIG_FILE_NAME,
  DEFAULT_CONFIG_YAML,
  loadBerthConfig,
  normalizeBerthConfig,
  resolveEnvironment,
} from '../../src/spec/environments.js';
import type { BerthConfig } from '../../src/spec/types.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'berth-config-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function configWith(name: string, text: string) {
  const dataDir = path.join(root, name);
  await mkdir(dataDir, { recursive: true });
  await writeFile(path.join(dataDir, CONFIG_FILE_NAME), text);
  return loadBerthConfig(dataDir);
}

describe('loadBerthConfig: the default', () => {
  it('writes the default once, in a 0700 dir, and never overwrites it', async () => {
    const dataDir = path.join(root, 'fresh', 'nested');
    const first = await loadBerthConfig(dataDir);
    expect(first.created).toBe(true);
    expect(first.diagnostics).toEqual([]);
    expect(first.file).toBe(path.join(dataDir, 'berth.config.yaml'));
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(first.file)).mode & 0o077).toBe(0);
    expect(await readFile(first.file, 'utf8')).toBe(DEFAULT_CONFIG_YAML);
    expect(DEFAULT_CONFIG_YAML).toMatch(/^# /);

    expect(first.config).toEqual({
      environments: {
        local: {
          name: 'local',
          provider: 'local',
          protected: false,
          color: 'green',
          drift: 'heal',
          local: { domain: 'localhost' },
        },
        staging: {
          name: 'staging',
          provider: 'local',
          protected: false,
          color: 'yellow',
          drift: 'heal',
          local: { domain: 'localhost' },
        },
        production: {
          name: 'production',
          provider: 'local',
          protected: true,
          color: 'red',
          drift: 'heal',
          local: { domain: 'localhost' },
        },
      },
    });

    const edited = DEFAULT_CONFIG_YAML.replace('color: green', 'color: blue');
    await writeFile(first.file, edited);
    const second = await loadBerthConfig(dataDir);
    expect(second.created).toBe(false);
    expect(await readFile(first.file, 'utf8')).toBe(edited);
    expect(second.config?.environments.local?.color).toBe('blue');
  });

  it('reports an unusable data dir as a diagnostic', async () => {
    const blocker = path.join(root, 'a-file');
    await writeFile(blocker, 'x');
    const loaded = await loadBerthConfig(path.join(blocker, 'data'));
    expect(loaded.config).toBeUndefined();
    expect(loaded.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        message: expect.stringMatching(/cannot create/),
        hint: expect.stringMatching(/--data-dir/),
      }),
    ]);
  });
});

describe('loadBerthConfig: validation', () => {
  it('fills defaults and accepts an aws environment', async () => {
    const loaded = await configWith(
      'aws',
      [
        'environments:',
        '  dev:',
        '    provider: local',
        '  aws-prod:',
        '    provider: aws',
        '    protected: true',
        '    drift: report',
        '    identity: "012345678901"',
        '    aws:',
        '      accountId: "012345678901"',
        '      region: eu-west-1',
        '      cluster: apps',
        '      listenerArn: arn:aws:elasticloadbalancing:eu-west-1:012345678901:listener/app/a/b/c',
        '      hostedZoneId: Z0123456789ABC',
        '      domain: apps.example.com',
        '      table: berth-state',
        '      endpoint: http://127.0.0.1:5000',
        '      subnets: [subnet-1, subnet-2]',
        '      securityGroups: [sg-1]',
      ].join('\n'),
    );
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.config?.environments.dev).toEqual({
      name: 'dev',
      provider: 'local',
      protected: false,
      color: 'cyan',
      drift: 'heal',
      local: { domain: 'localhost' },
    });
    expect(loaded.config?.environments['aws-prod']).toMatchObject({
      provider: 'aws',
      protected: true,
      drift: 'report',
      identity: '012345678901',
      aws: { accountId: '012345678901', region: 'eu-west-1', subnets: ['subnet-1', 'subnet-2'] },
    });
    expect(loaded.config?.environments['aws-prod']?.local).toBeUndefined();
  });

  it('reports every bad field with its path, line and a hint', async () => {
    const loaded = await configWith(
      'bad',
      [
        'environments:', // 1
        '  Staging_1:', // 2
        '    provider: local', // 3
        '  qa:', // 4
        '    provider: gcp', // 5
        '    protected: yes', // 6
        '    colour: red', // 7
        '    color: purple', // 8
        '    drift: ignore', // 9
        '  prod:', // 10
        '    provider: aws', // 11
        '  prod2:', // 12
        '    provider: aws', // 13
        '    aws:', // 14
        '      accountId: 12345', // 15
        '      region: Europe', // 16
        '      endpoint: ftp://x', // 17
        '  local:', // 18
        '    provider: local', // 19
        '    local: { domain: "not a domain" }', // 20
      ].join('\n'),
    );
    expect(loaded.config).toBeUndefined();
    expect(loaded.diagnostics.map((d) => [d.path, d.line])).toEqual([
      ['environments.Staging_1', 2],
      ['environments.qa.provider', 5],
      ['environments.qa.protected', 6],
      ['environments.qa.colour', 7],
      ['environments.qa.color', 8],
      ['environments.qa.drift', 9],
      ['environments.prod.aws', 10],
      ['environments.prod2.aws.accountId', 15],
      ['environments.prod2.aws.region', 16],
      ['environments.prod2.aws.endpoint', 17],
      ['environments.local.local.domain', 20],
    ]);
    for (const d of loaded.diagnostics) expect(d.hint, d.path).toBeTruthy();
    const byPath = Object.fromEntries(loaded.diagnostics.map((d) => [d.path, d]));
    expect(byPath['environments.Staging_1']!.hint).toMatch(/try staging-1/);
    expect(byPath['environments.qa.colour']!.hint).toMatch(/did you mean "color"/);
    expect(byPath['environments.qa.color']!.message).toMatch(
      /red, yellow, green, cyan, blue, magenta, white/,
    );
    expect(byPath['environments.prod.aws']!.message).toBe('is required when provider is aws');
    expect(byPath['environments.prod2.aws.accountId']!.hint).toMatch(/quote it/);
  });

  it.each([
    ['', /is empty/],
    ['- local\n', /must be a mapping/],
    ['environments: {}\n', /at least one environment/],
    ['environments:\n', /at least one environment/],
    ['envs: {}\n', /unknown key/],
    ['environments:\n\tlocal: {}\n', /Tabs/],
  ])('rejects %j', async (text, message) => {
    const loaded = await configWith(`doc-${Math.random().toString(36).slice(2)}`, text);
    expect(loaded.config).toBeUndefined();
    expect(loaded.diagnostics.some((d) => message.test(d.message))).toBe(true);
  });

  it('normalizeBerthConfig works on plain data', () => {
    const result = normalizeBerthConfig({
      environments: { dev: { provider: 'local', local: { domain: 'test' } } },
    });
    expect(result.config?.environments.dev?.local).toEqual({ domain: 'test' });
  });

  it('warns about settings for the other provider', () => {
    const result = normalizeBerthConfig({
      environments: { dev: { provider: 'local', aws: { accountId: '123456789012', region: 'us-east-1' } } },
    });
    expect(result.config).toBeDefined();
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', path: 'environments.dev.aws' }),
    ]);
  });
});

describe('resolveEnvironment', () => {
  const config = normalizeBerthConfig({
    environments: {
      local: { provider: 'local' },
      staging: { provider: 'local' },
      production: { provider: 'local', protected: true },
    },
  }).config as BerthConfig;

  function thrown(name: string | undefined): UserError {
    try {
      resolveEnvironment(config, name);
    } catch (error) {
      expect(error).toBeInstanceOf(UserError);
      return error as UserError;
    }
    throw new Error('expected resolveEnvironment to throw');
  }

  it('returns the named environment', () => {
    expect(resolveEnvironment(config, 'production')).toMatchObject({ name: 'production', protected: true });
  });

  it('requires a name and lists the valid ones', () => {
    for (const name of [undefined, '', '  ']) {
      const error = thrown(name);
      expect(error.message).toBe('--env is required');
      expect(error.exitCode).toBe(2);
      expect(error.hint).toMatch(/local, staging, production/);
    }
  });

  it('rejects an unknown name, with did-you-mean and the valid ones', () => {
    const error = thrown('prod');
    expect(error.message).toBe('unknown environment "prod"');
    expect(error.exitCode).toBe(2);
    expect(error.hint).toBe('did you mean "production"? environments: local, staging, production');
    expect(thrown('Staging').hint).toMatch(/did you mean "staging"/);
    expect(thrown('toString').hint).toBe('environments: local, staging, production');
    expect(thrown('__proto__').message).toMatch(/unknown environment/);
  });
});
