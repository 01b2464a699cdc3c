import { describe, expect, it } from 'vitest';
import { normalizeServiceSpec } from '../../src/spec/index.js';

const opts = { env: 'local', envNames: ['local', 'production'], baseDir: '/srv' };

describe("the control plane's own service", () => {
  it('has deletion protection on by default', () => {
    const { config } = normalizeServiceSpec({ name: 'berth', run: { command: ['node', 'berth.js'] } }, opts);
    expect(config?.protection.deletion).toBe(true);
  });

  it('keeps protection off by default for any other service, and lets berth.yaml decide', () => {
    expect(
      normalizeServiceSpec({ name: 'shop', run: { command: 'node s.js' } }, opts).config?.protection.deletion,
    ).toBe(false);
    const off = normalizeServiceSpec(
      { name: 'berth', run: { command: 'x' }, protection: { deletion: false } },
      opts,
    );
    expect(off.config?.protection.deletion).toBe(false);
  });
});
