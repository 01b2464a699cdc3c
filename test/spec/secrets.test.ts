/**
 * `secrets:` in berth.yaml: variable -> secret name. The spec keeps names only, overrides merge
 * key by key like env:, and a variable cannot be both a plain value and a secret, nor one that
 * berth sets itself or a loader variable that allowLoaderEnv does not list.
 */
import { describe, expect, it } from 'vitest';

import { normalizeServiceSpec } from '../../src/spec/normalize.js';
import { serviceSpecSchema } from '../../src/spec/service-spec-schema.js';

const opts = { env: 'staging', envNames: ['local', 'staging'], baseDir: '/srv/app' };
const base = { name: 'web', run: { command: ['node', 'server.js'] } };

function errorsOf(raw: unknown) {
  const result = normalizeServiceSpec(raw, opts);
  expect(result.config).toBeUndefined();
  return result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.path}: ${d.message}`);
}

describe('secrets: in berth.yaml', () => {
  it('keeps only the names, merged with the environment override key by key', () => {
    const { config } = normalizeServiceSpec(
      {
        ...base,
        secrets: { DATABASE_URL: 'db-url', API_KEY: 'api-key' },
        environments: {
          staging: { secrets: { API_KEY: 'arn:aws:secretsmanager:eu-west-1:1:secret:k-AbC' } },
        },
      },
      opts,
    );
    expect(config?.secrets).toEqual({
      DATABASE_URL: 'db-url',
      API_KEY: 'arn:aws:secretsmanager:eu-west-1:1:secret:k-AbC',
    });
    expect(normalizeServiceSpec(base, opts).config).not.toHaveProperty('secrets');
  });

  it('refuses a variable that is also in env:, PORT, a loader variable, and bad names', () => {
    expect(errorsOf({ ...base, env: { DATABASE_URL: 'x' }, secrets: { DATABASE_URL: 'db-url' } })).toEqual([
      'secrets.DATABASE_URL: DATABASE_URL is set in env: too',
    ]);
    expect(errorsOf({ ...base, secrets: { PORT: 'p' } })).toEqual([
      expect.stringMatching(/^secrets.PORT: PORT is reserved/),
    ]);
    expect(errorsOf({ ...base, secrets: { NODE_OPTIONS: 'opts' } })).toEqual([
      expect.stringMatching(/^secrets.NODE_OPTIONS: NODE_OPTIONS changes how programs load/),
    ]);
    expect(errorsOf({ ...base, secrets: { DATABASE_URL: 'has spaces' } })).toEqual([
      expect.stringMatching(/^secrets.DATABASE_URL: /),
    ]);
  });

  it('the API schema agrees: names only, never beside the same env variable', () => {
    const spec = {
      name: 'web',
      run: { command: ['node'], cwd: '/srv' },
      port: 8080,
      replicas: 1,
      health: { path: '/', intervalMs: 2000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
      domains: [],
      env: { DATABASE_URL: 'x' },
      protection: { deletion: false },
      drift: 'heal',
    };
    expect(
      serviceSpecSchema.safeParse({ ...spec, env: {}, secrets: { DATABASE_URL: 'db-url' } }).success,
    ).toBe(true);
    expect(serviceSpecSchema.safeParse({ ...spec, secrets: { DATABASE_URL: 'db-url' } }).success).toBe(false);
    expect(serviceSpecSchema.safeParse({ ...spec, env: {}, secrets: { PORT: 'p' } }).success).toBe(false);
  });
});
