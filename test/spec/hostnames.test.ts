/** Host name normal form and the names berth's naming scheme reserves. */
import { describe, expect, it } from 'vitest';
import { hostOfHeader, normalizeHostname, reservedOwner } from '../../src/spec/hostnames.js';

describe('host names', () => {
  it('compares names in lower case without a trailing dot', () => {
    expect(normalizeHostname('HELLO.local.localhost.')).toBe('hello.local.localhost');
    expect(normalizeHostname(' Shop.Example.TEST.. ')).toBe('shop.example.test');
  });

  it('reads a Host header or authority: no port, no trailing dot, lower case; IPv6 keeps its brackets', () => {
    expect(hostOfHeader('hello.local.localhost')).toBe('hello.local.localhost');
    expect(hostOfHeader('HELLO.Local.localhost.:4080')).toBe('hello.local.localhost');
    expect(hostOfHeader('[::1]:4080')).toBe('[::1]');
  });

  it('reserves <service>.<env>.<domain> and every name under it for that service, in any environment', () => {
    expect(reservedOwner('hello.production.localhost', 'localhost')).toEqual({
      env: 'production',
      service: 'hello',
    });
    expect(reservedOwner('API.Hello.Production.LOCALHOST.', 'localhost')).toEqual({
      env: 'production',
      service: 'hello',
    });
    expect(reservedOwner('hello.staging.apps.example.com', 'apps.example.com')).toEqual({
      env: 'staging',
      service: 'hello',
    });
    // one level under the domain, or outside it: a custom domain, first come first served
    expect(reservedOwner('shop.localhost', 'localhost')).toBeUndefined();
    expect(reservedOwner('shop.example.test', 'localhost')).toBeUndefined();
    expect(reservedOwner('localhost', 'localhost')).toBeUndefined();
  });
});
