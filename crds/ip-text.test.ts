import { describe, expect, it } from '@jest/globals';
import { cidrProblem, ipProblem, ipRangeProblem, readCidr, readIp } from './index.js';

const ok = (text: string): string => {
  const r = readIp(text);
  if (!r.ok) throw new Error(`${text}: ${r.reason}`);
  return `${r.family}:${r.value.toString(16)}`;
};

describe('readIp: the one strict address grammar', () => {
  it.each([
    ['10.0.0.1', 'ipv4:a000001'],
    ['0.0.0.0', 'ipv4:0'],
    ['255.255.255.255', 'ipv4:ffffffff'],
    ['fd00::1', 'ipv6:fd000000000000000000000000000001'],
    ['::', 'ipv6:0'],
    ['::1', 'ipv6:1'],
    ['1:2:3:4:5:6:7:8', 'ipv6:10002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', 'ipv6:10002000300040005000600070000'],
    ['FD00:0DB8::A', 'ipv6:fd000db800000000000000000000000a'],
    ['64:ff9b::10.0.0.1', 'ipv6:64ff9b00000000000000000a000001'],
    ['1:2:3:4:5:6:10.0.0.1', 'ipv6:1000200030004000500060a000001'],
  ])('accepts %s', (text, want) => {
    expect(ok(text)).toBe(want);
  });

  it.each([
    ['010.1.2.3', /leading zero/],
    ['10.01.2.3', /leading zero/],
    ['00.0.0.0', /leading zero/],
    ['256.1.1.1', /above 255/],
    ['10.1', /dotted-quad/],
    ['0x0a.1.2.3', /dotted-quad/],
    ['1.2.3.4:80', /group/],
    [' 10.0.0.1', /dotted-quad/],
    ['10.0.0.1\n', /dotted-quad/],
    ['::1::1', /more than one "::"/],
    [':::', /more than one "::"/],
    ['1:2:3:4:5:6:7:8:9', /8 groups/],
    ['1:2:3:4:5:6:7', /8 groups/],
    ['1::2:3:4:5:6:7:8', /too many groups/],
    ['fe80::1%eth0', /zone/],
    ['fd00::zz', /hex/],
    ['::ffff:1.2.3.4', /IPv4-mapped.*1\.2\.3\.4/],
    ['::ffff:102:304', /IPv4-mapped.*1\.2\.3\.4/],
    ['::FFFF:10.160.0.0', /IPv4-mapped/],
    ['::1.2.3.4', /IPv4-compatible/],
    ['::ffff:010.1.2.3', /leading zero/],
    ['', /empty/],
    ['1'.repeat(46), /longer/],
  ])('refuses %j', (text, why) => {
    const r = readIp(text);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(why);
  });

  it('refuses what is not a string', () => {
    expect(readIp(10).ok).toBe(false);
    expect(readIp(null).ok).toBe(false);
  });
});

describe('readCidr and cidrProblem', () => {
  it.each([
    ['10.0.0.0/8', 'ipv4', 8],
    ['0.0.0.0/0', 'ipv4', 0],
    ['fd00::/64', 'ipv6', 64],
    ['::/0', 'ipv6', 0],
  ])('accepts %s', (text, family, prefix) => {
    expect(readCidr(text)).toMatchObject({ ok: true, family, prefix });
    expect(cidrProblem(text)).toBeUndefined();
  });

  it.each([
    ['010.150.0.0/16', 'INVALID_CIDR', /leading zero/],
    ['10.0.0.0/08', 'INVALID_CIDR', /without leading zeros/],
    ['10.0.0.0/33', 'INVALID_CIDR', /0\.\.32/],
    ['fd00::/129', 'INVALID_CIDR', /0\.\.128/],
    ['10.0.0.1/8', 'INVALID_CIDR', /host bits/],
    ['10.0.0.0', 'INVALID_CIDR', /missing \/prefix/],
    [':::/64', 'INVALID_CIDR', /more than one/],
    ['::ffff:10.160.0.0/120', 'INVALID_CIDR', /IPv4-mapped/],
    ['::a00:0/104', 'INVALID_CIDR', /IPv4-compatible/],
    ['10.0.0.0/ 8', 'INVALID_CIDR', /prefix/],
    ['10.0.0.0/8/8', 'INVALID_CIDR', /prefix/],
  ])('refuses %j with %s', (text, code, why) => {
    const p = cidrProblem(text);
    expect(p?.code).toBe(code);
    expect(p?.message).toMatch(why);
  });

  it.each([
    ['0.0.0.0/0', /whole IPv4 address space/],
    ['::/0', /whole IPv6 address space/],
    ['255.255.255.255/32', /limited broadcast/],
    ['240.0.0.0/4', /limited broadcast/],
    ['127.0.0.0/8', /loopback/],
    ['127.1.0.0/16', /loopback/],
    ['169.254.0.0/16', /link-local/],
    ['224.0.0.0/24', /multicast/],
    ['0.0.0.0/8', /this network/],
    ['::/128', /unspecified/],
    ['::1/128', /loopback/],
    ['::/64', /unspecified/],
    ['::fff0:0:0/92', /IPv4-mapped/],
    ['fe80::/64', /link-local/],
    ['ff02::/16', /multicast/],
  ])('refuses %s as a pool, subnet or cluster CIDR', (text, why) => {
    expect(cidrProblem(text)).toBeUndefined();
    const p = cidrProblem(text, { allocatable: true });
    expect(p?.code).toBe('SPECIAL_PURPOSE_ADDRESS');
    expect(p?.message).toMatch(why);
  });

  it.each(['10.0.0.0/8', '100.64.0.0/10', '192.0.2.0/24', '240.0.0.0/8', 'fd00::/48', '2001:db8::/32', '64:ff9b::/96'])('allows %s as a pool', (text) => {
    expect(cidrProblem(text, { allocatable: true })).toBeUndefined();
  });

  it('checks the family when asked', () => {
    expect(cidrProblem('10.0.0.0/8', { family: 'ipv6' })?.message).toMatch(/IPv4 CIDR; an IPv6 CIDR is expected/);
  });
});

describe('ipProblem and ipRangeProblem', () => {
  it('checks family and unicast for egress IPs and endpoints', () => {
    expect(ipProblem('10.101.0.11', { family: 'ipv6' })?.message).toMatch(/IPv4 address; an IPv6 address is expected/);
    expect(ipProblem('fd00::1', { family: 'ipv4' })?.code).toBe('INVALID_IP');
    expect(ipProblem('0.0.0.0', { unicast: true })?.code).toBe('SPECIAL_PURPOSE_ADDRESS');
    expect(ipProblem('224.0.0.1', { unicast: true })?.code).toBe('SPECIAL_PURPOSE_ADDRESS');
    expect(ipProblem('255.255.255.255', { unicast: true })?.code).toBe('SPECIAL_PURPOSE_ADDRESS');
    expect(ipProblem('ff02::1', { unicast: true })?.code).toBe('SPECIAL_PURPOSE_ADDRESS');
    expect(ipProblem('::', { unicast: true })?.code).toBe('SPECIAL_PURPOSE_ADDRESS');
    expect(ipProblem('192.0.2.1', { unicast: true })).toBeUndefined();
    expect(ipProblem('127.0.0.1', { unicast: true })).toBeUndefined();
  });

  it.each([
    ['10.0.0.20-10.0.0.10', undefined, /first is after last/],
    ['10.0.0.1-fd00::1', undefined, /mixes IPv4 and IPv6/],
    ['fd00::1-fd00::9', 'ipv4', /only IPv4/],
    ['10.0.0.1', 'ipv6', /only IPv6/],
    ['10.0.0.1-10.0.0.2-10.0.0.3', undefined, /more than one/],
    ['010.0.0.1-10.0.0.9', undefined, /first: leading zero/],
    ['10.0.0.1-', undefined, /last: empty/],
  ] as const)('refuses the range %j', (text, family, why) => {
    const p = ipRangeProblem(text, family ? { family } : {});
    expect(p?.code).toBe('INVALID_IP_RANGE');
    expect(p?.message).toMatch(why);
  });

  it('accepts single addresses and ordered ranges', () => {
    expect(ipRangeProblem('10.0.0.1')).toBeUndefined();
    expect(ipRangeProblem('10.0.0.1-10.0.0.1')).toBeUndefined();
    expect(ipRangeProblem('fd00::1-fd00::ff', { family: 'ipv6' })).toBeUndefined();
  });
});
