/**
 * Loader variables: a spec that sets LD_PRELOAD, DYLD_INSERT_LIBRARIES, NODE_OPTIONS or an unsafe
 * PATH would make the service's programs load code (or find programs) nobody reviewed. Refused,
 * with a hint, in berth.yaml, over the API and in the engine, unless allowLoaderEnv: lists it.
 */
import { describe, expect, it } from 'vitest';

import { normalizeServiceSpec } from '../../src/spec/normalize.js';
import { serviceSpecSchema } from '../../src/spec/service-spec-schema.js';
import { loaderEnvError } from '../../src/spec/loader-env.js';

const ENV_NAMES = ['local', 'staging', 'production'];
const normalize = (raw: unknown, env = 'staging') =>
  normalizeServiceSpec(raw, { env, envNames: ENV_NAMES, baseDir: '/srv/app' });
const web = (env: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'web',
  run: { command: ['node', 'server.js'] },
  env,
  ...extra,
});

describe('loader variables in env:', () => {
  it.each([
    ['LD_PRELOAD', '/tmp/evil.so', /dynamic linker/],
    ['LD_LIBRARY_PATH', '/tmp', /dynamic linker/],
    ['DYLD_INSERT_LIBRARIES', '/tmp/evil.dylib', /dynamic linker/],
    ['NODE_OPTIONS', '--require /tmp/evil.js', /load extra code/],
    ['BASH_ENV', '/tmp/evil.sh', /load extra code/],
    ['PATH', '', /empty PATH/],
    ['PATH', ':/usr/bin', /empty entry/],
    ['PATH', '/usr/bin:.', /relative entry "\."/],
  ])('refuses %s=%j with a hint naming allowLoaderEnv', (name, value, why) => {
    const result = normalize(web({ [name]: value }));
    expect(result.config).toBeUndefined();
    const [error] = result.diagnostics.filter((d) => d.severity === 'error');
    expect(error).toMatchObject({ path: `env.${name}` });
    expect(error!.message).toMatch(why);
    expect(error!.hint).toContain(`allowLoaderEnv: [${name}]`);
  });

  it('points at the override that set it', () => {
    const result = normalize(web({}, { environments: { staging: { env: { LD_PRELOAD: 'x.so' } } } }));
    expect(result.diagnostics.find((d) => d.severity === 'error')?.path).toBe(
      'environments.staging.env.LD_PRELOAD',
    );
    expect(
      normalize(web({}, { environments: { staging: { env: { LD_PRELOAD: 'x.so' } } } }), 'local').config,
    ).toBeDefined();
  });

  it('accepts ordinary variables and an absolute PATH', () => {
    const result = normalize(
      web({ LOG_LEVEL: 'debug', PATH: '/usr/local/bin:/usr/bin', LDAP_URL: 'ldap://x' }),
    );
    expect(result.diagnostics).toEqual([]);
    expect(result.config?.allowLoaderEnv).toBeUndefined();
  });

  it('accepts exactly the variables allowLoaderEnv: lists (explicit opt-in)', () => {
    const allowed = normalize(
      web(
        { NODE_OPTIONS: '--max-old-space-size=512', LD_PRELOAD: 'libjemalloc.so' },
        {
          allowLoaderEnv: ['NODE_OPTIONS'],
        },
      ),
    );
    expect(allowed.config).toBeUndefined();
    expect(allowed.diagnostics.filter((d) => d.severity === 'error').map((d) => d.path)).toEqual([
      'env.LD_PRELOAD',
    ]);
    const both = normalize(
      web({ NODE_OPTIONS: '--max-old-space-size=512' }, { allowLoaderEnv: ['NODE_OPTIONS'] }),
    );
    expect(both.config).toMatchObject({
      env: { NODE_OPTIONS: '--max-old-space-size=512' },
      allowLoaderEnv: ['NODE_OPTIONS'],
    });
  });

  it('is refused over the API (the normalized spec schema) and by the engine for an old revision', () => {
    const spec = normalize(web({ NODE_OPTIONS: '-r x' }, { allowLoaderEnv: ['NODE_OPTIONS'] })).config!;
    expect(serviceSpecSchema.safeParse(spec).success).toBe(true);
    const { allowLoaderEnv: _dropped, ...without } = spec;
    const parsed = serviceSpecSchema.safeParse(without);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]).toMatchObject({ path: ['env', 'NODE_OPTIONS'] });
    const error = loaderEnvError(without);
    expect(error).toMatchObject({ exitCode: 2, code: 'loader_env' });
    expect(error!.hint).toContain('allowLoaderEnv: [NODE_OPTIONS]');
    expect(loaderEnvError(spec)).toBeUndefined();
  });
});
