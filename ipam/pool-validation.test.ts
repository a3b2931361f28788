import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../api/index.js';
import { formatRange } from './ip-range.js';
import type { IpamConfig } from './model.js';
import { compileIpamConfig, parseIPPool, parseReservedIP, parseSubnet } from './pool-validation.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isStraitError(e) ? e.code : `not-strait: ${String(e)}`;
  }
};

describe('pool validation', () => {
  const ok = { name: 'p1', subnet: '10.77.0.0/24' };
  it.each([
    ['missing subnet', { name: 'p1' }, 'INVALID_POOL'],
    ['bad name', { ...ok, name: 'P_1' }, 'INVALID_POOL'],
    ['unknown field', { ...ok, gatway: '10.77.0.1' }, 'INVALID_POOL'],
    ['bad subnet', { ...ok, subnet: '10.77.0.1/24' }, 'INVALID_POOL'],
    ['ips outside subnet', { ...ok, ips: ['10.78.0.1-10.78.0.9'] }, 'INVALID_POOL'],
    ['reversed range', { ...ok, ips: ['10.77.0.9-10.77.0.1'] }, 'INVALID_POOL'],
    ['gateway outside', { ...ok, gateway: '10.78.0.1' }, 'INVALID_POOL'],
    ['v6 ips in v4 pool', { ...ok, ips: ['fd00::1'] }, 'INVALID_POOL'],
    ['blockSize too small', { ...ok, blockSize: 23 }, 'INVALID_POOL'],
    ['blockSize too large', { ...ok, blockSize: 31 }, 'INVALID_POOL'],
    ['v6 blockSize too wide', { name: 'p6', subnet: 'fd00::/64', blockSize: 100 }, 'INVALID_POOL'],
    ['bad route', { ...ok, routes: [{ dst: 'fd00::/8' }] }, 'INVALID_POOL'],
    ['bad exclusion', { ...ok, excludeIPs: ['10.77.0.300'] }, 'INVALID_POOL'],
    ['In without values', { ...ok, nodeAffinity: { matchExpressions: [{ key: 'a', operator: 'In' }] } }, 'INVALID_POOL'],
    ['bad operator', { ...ok, podAffinity: { matchExpressions: [{ key: 'a', operator: 'Has' }] } }, 'INVALID_POOL'],
    ['octal subnet', { ...ok, subnet: '010.77.0.0/24' }, 'INVALID_POOL'],
    ['octal exclusion', { ...ok, excludeIPs: ['10.77.0.010'] }, 'INVALID_POOL'],
    ['mapped subnet', { name: 'p6', subnet: '::ffff:10.77.0.0/120' }, 'INVALID_POOL'],
    ['default route as pool', { ...ok, subnet: '0.0.0.0/0' }, 'SPECIAL_PURPOSE_ADDRESS'],
    ['::/0 as pool', { name: 'p6', subnet: '::/0' }, 'SPECIAL_PURPOSE_ADDRESS'],
    ['broadcast as pool', { ...ok, subnet: '255.255.255.255/32' }, 'SPECIAL_PURPOSE_ADDRESS'],
    ['loopback as pool', { ...ok, subnet: '127.0.0.0/8' }, 'SPECIAL_PURPOSE_ADDRESS'],
    ['link-local v6 as pool', { name: 'p6', subnet: 'fe80::/64' }, 'SPECIAL_PURPOSE_ADDRESS'],
    ['fine', { ...ok, ips: ['10.77.0.10-10.77.0.29'], gateway: '10.77.0.1', default: true, blockSize: 28 }, undefined],
    ['fine v6', { name: 'p6', subnet: 'fd00::/64', blockSize: 120, routes: [{ dst: '::/0', gw: 'fd00::1' }] }, undefined],
  ])('%s', (_name, input, want) => {
    expect(code(() => parseIPPool(input))).toBe(want);
  });

  it('names the pool and the field in the message', () => {
    expect(() => parseIPPool({ ...ok, ips: ['10.78.0.1'] })).toThrow('pool "p1": ips[0] 10.78.0.1 is outside subnet 10.77.0.0/24');
    expect(() => parseIPPool({ ...ok, gateway: 'nope' })).toThrow(/pool "p1": gateway: not an IP address/);
  });

  it('validates subnets and reserved IPs with their own codes', () => {
    expect(code(() => parseSubnet({ name: 's', cidr: '10.0.0.0/33' }))).toBe('INVALID_SUBNET');
    expect(code(() => parseSubnet({ name: 's', cidr: '10.0.0.0/24', vlan: 5000 }))).toBe('INVALID_SUBNET');
    expect(code(() => parseReservedIP({ ips: ['10.0.0.1', 'bad'] }))).toBe('INVALID_RESERVED_IP');
    expect(code(() => parseReservedIP({ ips: ['10.0.0.1', '10.0.0.0/30', '10.0.0.5-10.0.0.9'] }))).toBeUndefined();
  });
});

describe('compiling a config', () => {
  it('removes network, broadcast, gateway, exclusions and reserved IPs', () => {
    const cfg: IpamConfig = {
      subnets: [{ name: 's1', cidr: '10.1.0.0/28', gateway: '10.1.0.1', excludeIPs: ['10.1.0.14'], vlan: 7, routes: [{ dst: '0.0.0.0/0' }] }],
      pools: [{ name: 'p', subnet: '10.1.0.0/28', excludeIPs: ['10.1.0.5-10.1.0.6'] }],
      reserved: [{ name: 'hw', ips: ['10.1.0.9'] }],
    };
    const [p] = compileIpamConfig(cfg);
    expect(p!.usable.map(formatRange)).toEqual(['10.1.0.2-10.1.0.4', '10.1.0.7-10.1.0.8', '10.1.0.10-10.1.0.13']);
    expect(p!.total).toBe(9n);
    expect(p!.gateway).toBe('10.1.0.1');
    expect(p!.vlan).toBe(7);
    expect(p!.routes).toEqual([{ dst: '0.0.0.0/0' }]);
    expect(p!.blockPrefix).toBe(28);
  });

  it('keeps every address of /31 and /32 pools and the IPv6 block default', () => {
    const [a, b, c] = compileIpamConfig({
      pools: [
        { name: 'a', subnet: '10.2.0.0/31' },
        { name: 'b', subnet: '10.3.0.7/32' },
        { name: 'c', subnet: 'fd00::/64' },
      ],
    });
    expect(a!.total).toBe(2n);
    expect(b!.total).toBe(1n);
    expect(c!.blockPrefix).toBe(122);
    expect(c!.usable.map(formatRange)).toEqual(['fd00::2-fd00::ffff:ffff:ffff:ffff']);
  });

  it.each([
    ['same subnet, disjoint ranges', ['10.0.0.10-10.0.0.19'], ['10.0.0.20-10.0.0.29'], undefined],
    ['touching ranges', ['10.0.0.10-10.0.0.20'], ['10.0.0.20-10.0.0.29'], 'POOL_OVERLAP'],
    ['whole subnet vs range', undefined, ['10.0.0.20-10.0.0.29'], 'POOL_OVERLAP'],
  ])('overlap: %s', (_n, ipsA, ipsB, want) => {
    const pool = (name: string, ips?: string[]) => ({ name, subnet: '10.0.0.0/24', ...(ips ? { ips } : {}) });
    expect(code(() => compileIpamConfig({ pools: [pool('a', ipsA), pool('b', ipsB)] }))).toBe(want);
  });

  it('reports the overlapping pools and address', () => {
    expect(() =>
      compileIpamConfig({ pools: [{ name: 'a', subnet: '10.0.0.0/24' }, { name: 'b', subnet: '10.0.0.128/25' }] }),
    ).toThrow('pools "a" and "b" overlap at 10.0.0.130-10.0.0.254');
  });

  it('gives a pool without a gateway its subnet\'s first host address as gateway, never handed out', () => {
    const [v4, v6, p31] = compileIpamConfig({
      pools: [
        { name: 'v4', subnet: '10.4.0.0/24' },
        { name: 'v6', subnet: 'fd04::/120' },
        { name: 'p31', subnet: '10.5.0.0/31' },
      ],
    });
    expect([v4!.gateway, v4!.usable.map(formatRange), v4!.total]).toEqual(['10.4.0.1', ['10.4.0.2-10.4.0.254'], 253n]);
    expect([v6!.gateway, v6!.usable.map(formatRange)]).toEqual(['fd04::1', ['fd04::2-fd04::ff']]);
    // No spare address in a /31: no gateway, both addresses usable.
    expect([p31!.gateway, p31!.total]).toEqual([undefined, 2n]);
  });

  it('keeps every pool\'s gateway, named or implicit, from the other pools of its subnet', () => {
    const [a, b] = compileIpamConfig({
      pools: [
        { name: 'a', subnet: '10.6.0.0/24', ips: ['10.6.0.1-10.6.0.9', '10.6.0.254'] },
        { name: 'b', subnet: '10.6.0.0/24', ips: ['10.6.0.10-10.6.0.20'], gateway: '10.6.0.254' },
      ],
    });
    // a's implicit gateway .1 and b's named .254 are both out of a.
    expect([a!.gateway, a!.usable.map(formatRange)]).toEqual(['10.6.0.1', ['10.6.0.2-10.6.0.9']]);
    expect([b!.gateway, b!.usable.map(formatRange)]).toEqual(['10.6.0.254', ['10.6.0.10-10.6.0.20']]);
  });

  it('rejects duplicate names and a config without pools', () => {
    expect(code(() => compileIpamConfig({ pools: [{ name: 'a', subnet: '10.0.0.0/24' }, { name: 'a', subnet: '10.1.0.0/24' }] }))).toBe('INVALID_POOL');
    expect(code(() => compileIpamConfig({}))).toBe('INVALID_POOL');
  });
});
