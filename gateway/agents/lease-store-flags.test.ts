import { describe, expect, it } from '@jest/globals';
import { parseLeaseStores } from './lease-store-flags.js';

describe('--lease-redis', () => {
  it.each([
    ['redis://10.0.0.1:6380', ['redis://10.0.0.1:6380']],
    ['redis://a:1,redis://b:1,redis://c:1', ['redis://a:1', 'redis://b:1', 'redis://c:1']],
    [' /run/a.sock , unix:///run/b.sock,redis://c:1 ', ['/run/a.sock', 'unix:///run/b.sock', 'redis://c:1']],
  ])('%s is one store or a quorum', (spec, want) => {
    expect(parseLeaseStores(spec)).toEqual(want);
  });

  it.each([
    ['', /give one store or an odd number/],
    ['redis://a:1,redis://b:1', /give an odd number/],
    ['redis://a:1,redis://a:1,redis://c:1', /named twice/],
    ['redis://a:1,http://b:1,redis://c:1', /http:\/\/b:1: expected redis:\/\//],
  ])('%j is refused with a clear error', (spec, msg) => {
    expect(() => parseLeaseStores(spec)).toThrow(msg);
    try {
      parseLeaseStores(spec);
    } catch (e) {
      expect(e).toMatchObject({ code: 'GATEWAY_INVALID_CONFIG' });
    }
  });
});
