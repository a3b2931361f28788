import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../api/index.js';
import {
  canonicalIp,
  cidrsOverlap,
  countRanges,
  formatCidr,
  formatIp,
  formatRange,
  normalizeRanges,
  parseCidr,
  parseIp,
  parseIpSpec,
  subtractRanges,
  type IpRange,
} from './index.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isStraitError(e) ? e.code : 'not-strait';
  }
};

describe('addresses', () => {
  it.each([
    ['10.0.0.1', 'ipv4', 167772161n, '10.0.0.1'],
    ['255.255.255.255', 'ipv4', 4294967295n, '255.255.255.255'],
    ['0.0.0.0', 'ipv4', 0n, '0.0.0.0'],
    ['2001:DB8:0:0:1:0:0:1', 'ipv6', 0x20010db8000000000001000000000001n, '2001:db8::1:0:0:1'],
    ['fd00::', 'ipv6', 0xfd000000000000000000000000000000n, 'fd00::'],
    ['::', 'ipv6', 0n, '::'],
    ['::1', 'ipv6', 1n, '::1'],
    ['1:0:0:2:0:0:0:3', 'ipv6', 0x00010000000000020000000000000003n, '1:0:0:2::3'],
    ['1:2:3:4:5:6:7:8', 'ipv6', 0x00010002000300040005000600070008n, '1:2:3:4:5:6:7:8'],
  ] as const)('parses %s', (text, family, value, canonical) => {
    expect(parseIp(text)).toEqual({ family, value });
    expect(formatIp(family, value)).toBe(canonical);
    expect(canonicalIp(text)).toBe(canonical);
  });

  it.each(['10.1', '10.0.0.256', '', 'fe80::1%eth0', 'abc', '10.0.0.1/32', ' : '])('rejects %j', (text) => {
    expect(code(() => parseIp(text))).toBe('INVALID_IP');
  });
});

describe('CIDRs', () => {
  it.each([
    ['10.0.0.0/24', 'ipv4', 24, '10.0.0.0', '10.0.0.255'],
    ['10.0.0.7/32', 'ipv4', 32, '10.0.0.7', '10.0.0.7'],
    ['0.0.0.0/0', 'ipv4', 0, '0.0.0.0', '255.255.255.255'],
    ['fd00::/64', 'ipv6', 64, 'fd00::', 'fd00::ffff:ffff:ffff:ffff'],
  ] as const)('parses %s', (text, family, prefix, first, last) => {
    const c = parseCidr(text);
    expect(c.family).toBe(family);
    expect(c.prefix).toBe(prefix);
    expect(formatIp(family, c.first)).toBe(first);
    expect(formatIp(family, c.last)).toBe(last);
    expect(formatCidr(c)).toBe(text);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', '10.0.0.1/24', 'fd00::1/64', 'x/24', '10.0.0.0/-1', '10.0.0.0/2a'])('rejects %j', (text) => {
    expect(code(() => parseCidr(text))).toBe('INVALID_CIDR');
  });

  it('suggests the network when host bits are set', () => {
    expect(() => parseCidr('10.0.0.5/24')).toThrow(/did you mean 10\.0\.0\.0\/24/);
  });

  it.each([
    ['10.0.0.0/24', '10.0.0.128/25', true],
    ['10.0.0.0/25', '10.0.0.128/25', false],
    ['10.0.0.0/8', '10.200.0.0/16', true],
    ['fd00::/64', 'fd00:0:0:1::/64', false],
    ['10.0.0.0/8', 'fd00::/8', false],
  ] as const)('overlap %s %s → %s', (a, b, want) => {
    expect(cidrsOverlap(parseCidr(a), parseCidr(b))).toBe(want);
  });
});

describe('ranges', () => {
  const r = (t: string): IpRange => parseIpSpec(t);
  it.each([
    ['10.0.0.10-10.0.0.50', '10.0.0.10-10.0.0.50', 41n],
    ['10.0.0.5', '10.0.0.5', 1n],
    ['10.0.0.0/30', '10.0.0.0-10.0.0.3', 4n],
    ['fd00::a-fd00::f', 'fd00::a-fd00::f', 6n],
  ])('parses %s', (text, formatted, size) => {
    expect(formatRange(r(text))).toBe(formatted);
    expect(countRanges([r(text)])).toBe(size);
  });

  it.each(['10.0.0.50-10.0.0.10', '10.0.0.1-fd00::1', '10.0.0.1-', '-10.0.0.1', '10.0.0.1-x'])('rejects %j', (text) => {
    expect(code(() => parseIpSpec(text))).toBe('INVALID_IP_RANGE');
  });

  it('merges and subtracts', () => {
    const merged = normalizeRanges([r('10.0.0.20-10.0.0.30'), r('10.0.0.1-10.0.0.10'), r('10.0.0.11-10.0.0.15'), r('10.0.0.25-10.0.0.40')]);
    expect(merged.map(formatRange)).toEqual(['10.0.0.1-10.0.0.15', '10.0.0.20-10.0.0.40']);
    const left = subtractRanges(merged, normalizeRanges([r('10.0.0.1'), r('10.0.0.5-10.0.0.6'), r('10.0.0.14-10.0.0.22'), r('10.0.0.40')]));
    expect(left.map(formatRange)).toEqual(['10.0.0.2-10.0.0.4', '10.0.0.7-10.0.0.13', '10.0.0.23-10.0.0.39']);
    expect(subtractRanges(merged, [r('10.0.0.0/24')])).toEqual([]);
    expect(subtractRanges(merged, [])).toEqual(merged);
  });
});

describe('the fast parser agrees with ipaddr.js', () => {
  it('on random IPv6 and IPv4 addresses in every compression', async () => {
    const ipaddr = (await import('ipaddr.js')).default;
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let i = 0; i < 2000; i++) {
      const groups = Array.from({ length: 8 }, () => (next() % 3 === 0 ? 0 : next() % 65536));
      const full = groups.map((g) => g.toString(16)).join(':');
      const want = ipaddr.IPv6.parse(full).toRFC5952String();
      // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96) addresses are refused in any spelling.
      if (groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || (groups[5] === 0 && (groups[6] !== 0 || groups[7]! > 1)))) {
        expect(() => canonicalIp(full)).toThrow(/IPv4-(mapped|compatible)/);
        continue;
      }
      expect(canonicalIp(full)).toBe(want);
      expect(canonicalIp(want)).toBe(want);
      const v4 = [next() % 256, next() % 256, next() % 256, next() % 256].join('.');
      expect(canonicalIp(v4)).toBe(v4);
    }
  });
});
