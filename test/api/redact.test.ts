/**
 * What a viewer's answers hide: the values of a spec's `env:` variables, and nothing else. An
 * environment's own config also travels under an `env` key (GET /v1/envs/{env}); hiding it broke
 * every command a viewer ran through the API (the CLI could not tell which environment it was in).
 */
import { describe, expect, it } from 'vitest';
import { HIDDEN_VALUE, hideEnvValues, hideValuesInText } from '../../src/api/redact.js';

describe('redaction for viewers', () => {
  it("hides a spec's variable values, keeping their names", () => {
    expect(hideEnvValues({ spec: { name: 'web', env: { TOKEN: 'abc123', MODE: 'fast' } } })).toEqual({
      spec: { name: 'web', env: { TOKEN: HIDDEN_VALUE, MODE: HIDDEN_VALUE } },
    });
    expect(hideEnvValues({ field: 'env.TOKEN', desired: 'abc123', observed: 'old' })).toEqual({
      field: 'env.TOKEN',
      desired: HIDDEN_VALUE,
      observed: HIDDEN_VALUE,
    });
  });

  it("leaves an environment's own config alone", () => {
    const answer = {
      env: {
        name: 'local',
        provider: 'local',
        protected: false,
        color: 'green',
        local: { domain: 'localhost' },
      },
      identity: { id: 'rtm-1', description: 'local runtime' },
    };
    expect(hideEnvValues(answer)).toEqual(answer);
  });

  it('hides values wherever they occur in text, the longer first, short ones left', () => {
    expect(
      hideValuesInText('key=shop-key-1 and shop-key-12, mode=on', ['shop-key-1', 'shop-key-12', 'on']),
    ).toBe(`key=${HIDDEN_VALUE} and ${HIDDEN_VALUE}, mode=on`);
  });
});
