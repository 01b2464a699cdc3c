import { describe, expect, it } from 'vitest';
import { checkContextName, normalizeApiUrl } from '../../src/cli/contexts.js';

describe('context URLs and names', () => {
  it('keeps the scheme, host and port, and adds http only for loopback names', () => {
    expect(normalizeApiUrl('https://berth.example.com/')).toBe('https://berth.example.com');
    expect(normalizeApiUrl('berth.example.com')).toBe('https://berth.example.com');
    expect(normalizeApiUrl('berth.production.localhost:4080')).toBe('http://berth.production.localhost:4080');
    expect(normalizeApiUrl('127.0.0.1:4000')).toBe('http://127.0.0.1:4000');
  });

  it('refuses what is not a plain http(s) base URL, saying why', () => {
    expect(() => normalizeApiUrl('ftp://x')).toThrow(/not an http or https URL/);
    expect(() => normalizeApiUrl('https://user:pw@x.example.com')).toThrow(/user, password/);
    expect(() => normalizeApiUrl('https://x.example.com/?token=1')).toThrow(/query/);
    expect(() => normalizeApiUrl('http://')).toThrow(/not a URL/);
  });

  it('accepts names a shell and a table show plainly', () => {
    expect(checkContextName('prod-eu.1')).toBe('prod-eu.1');
    expect(() => checkContextName('a b')).toThrow(/not a valid context name/);
    expect(() => checkContextName('none')).toThrow(/not a valid context name/);
  });
});
