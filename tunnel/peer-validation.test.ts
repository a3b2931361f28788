import { describe, expect, it } from '@jest/globals';
import { validatePeers } from './peer-validation.js';
import type { TunnelPeer } from './types.js';

const peer = (id: string, endpoint: string, remoteCidrs: string[]): TunnelPeer => ({ id, cluster: id, endpoint, remoteCidrs });

describe('validatePeers reads addresses with the one grammar (crds/ip-text.ts)', () => {
  it('accepts distinct peers with disjoint CIDRs', () => {
    expect(() => validatePeers('vxlan', [peer('a', '192.0.2.1', ['10.1.0.0/16']), peer('b', '192.0.2.2', ['10.2.0.0/16', '10.3.0.0/24'])])).not.toThrow();
  });

  it.each([
    ['an octal-looking endpoint', peer('a', '192.0.2.010', ['10.1.0.0/16']), /endpoint must be an IPv4 address/],
    ['an IPv4-mapped endpoint', peer('a', '::ffff:192.0.2.1', ['10.1.0.0/16']), /endpoint must be an IPv4 address/],
    ['a CIDR with host bits', peer('a', '192.0.2.1', ['10.1.0.1/16']), /invalid CIDR/],
    ['a CIDR with a leading zero', peer('a', '192.0.2.1', ['010.1.0.0/16']), /invalid CIDR/],
    ['an IPv6 CIDR', peer('a', '192.0.2.1', ['fd00::/64']), /invalid CIDR/],
  ])('refuses %s', (_what, p, message) => {
    expect(() => validatePeers('vxlan', [p])).toThrow(expect.objectContaining({ code: 'TUNNEL_INVALID_PEER', message: expect.stringMatching(message) }));
  });

  it('refuses overlapping remote CIDRs of two peers, also when one contains the other or they only touch the edge', () => {
    const cases: [string, string][] = [
      ['10.0.0.0/8', '10.200.0.0/16'],
      ['10.1.0.0/16', '10.0.0.0/8'],
      ['10.1.255.0/24', '10.1.0.0/16'],
    ];
    for (const [a, b] of cases) {
      expect(() => validatePeers('vxlan', [peer('a', '192.0.2.1', [a]), peer('b', '192.0.2.2', [b])])).toThrow(/overlapping remote CIDRs/);
    }
    expect(() => validatePeers('vxlan', [peer('a', '192.0.2.1', ['10.1.0.0/16']), peer('b', '192.0.2.2', ['10.2.0.0/16'])])).not.toThrow();
    expect(() => validatePeers('vxlan', [peer('a', '192.0.2.1', ['10.0.0.0/16']), peer('b', '192.0.2.2', ['10.1.0.0/16'])])).not.toThrow();
  });
});
