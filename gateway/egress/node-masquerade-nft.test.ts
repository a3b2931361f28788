import { describe, expect, it } from '@jest/globals';
import { masqueradeFromNftJson, masqueradeRuleset, masqueradeUpdate, normalizeMasqueradeIntent } from './node-masquerade-nft.js';

const t = { table: 'strait-nm-r1', egressDev: 've-r1' };
const base = { podCidrs: ['10.11.0.0/16'], clusterCidrs: ['10.11.0.0/16', '10.96.0.0/12', '10.10.0.0/16'], egressMarks: [0x5e00] };

describe('node masquerade as nftables (pure)', () => {
  it.each([
    ['overlapping and touching CIDRs merge into one span (a range when it is no prefix)', ['10.12.0.0/16', '10.11.0.0/16', '10.11.4.0/24'], ['10.11.0.0-10.12.255.255']],
    ['two halves make their prefix', ['10.10.0.0/16', '10.11.0.0/16'], ['10.10.0.0/15']],
    ['a span that is no prefix is a range; an address is a /32; IPv4 before IPv6', ['fd00::/64', '10.0.0.1', '10.0.0.2-10.0.0.4'], ['10.0.0.1-10.0.0.4', 'fd00::/64']],
    ['nothing', [], []],
  ])('normal form: %s', (_, input, expected) => {
    expect(normalizeMasqueradeIntent({ podCidrs: [], clusterCidrs: input, egressMarks: [] }).clusterCidrs).toEqual(expected);
  });

  it('normal form: marks sorted, once each; a bad CIDR throws', () => {
    expect(normalizeMasqueradeIntent({ podCidrs: [], clusterCidrs: [], egressMarks: [0x5e02, 0x5e00, 0x5e02] }).egressMarks).toEqual([0x5e00, 0x5e02]);
    expect(() => normalizeMasqueradeIntent({ podCidrs: ['10.0.0.0/40'], clusterCidrs: [], egressMarks: [] })).toThrow();
  });

  it('the whole table: egress-steered traffic returns first, then pod sources to non-cluster destinations are masqueraded', () => {
    const s = masqueradeRuleset(t, { ...base, podCidrs: [...base.podCidrs, 'fd11::/64'] });
    expect(s).toContain('add chain inet strait-nm-r1 post { type nat hook postrouting priority srcnat + 5; policy accept; }');
    const rules = s.split('\n').filter((l) => l.startsWith('add rule'));
    expect(rules).toEqual([
      'add rule inet strait-nm-r1 post oifname "ve-r1" return',
      'add rule inet strait-nm-r1 post meta mark @egress_marks return',
      'add rule inet strait-nm-r1 post ip saddr @pod_v4 ip daddr != @cluster_v4 masquerade',
      'add rule inet strait-nm-r1 post ip6 saddr @pod_v6 ip6 daddr != @cluster_v6 masquerade',
    ]);
    // A table an earlier run left is taken over: its chain and sets are emptied in the same transaction.
    expect(s.indexOf('flush chain inet strait-nm-r1 post')).toBeLessThan(s.indexOf('add rule'));
    expect(s).toContain('add element inet strait-nm-r1 cluster_v4 { 10.10.0.0/15, 10.96.0.0/12 }');
    expect(s).toContain('add element inet strait-nm-r1 pod_v6 { fd11::/64 }');
    expect(s).toContain('add element inet strait-nm-r1 egress_marks { 0x5e00 }');
    expect(s).not.toContain('add element inet strait-nm-r1 cluster_v6'); // empty sets get no element line
  });

  it('an update is element changes only: a cluster leaving, a pool joining, an egress rule going; nothing for no change', () => {
    const next = { podCidrs: ['10.11.0.0/16'], clusterCidrs: ['10.11.0.0/16', '10.96.0.0/12', '10.200.0.0/24'], egressMarks: [] };
    expect(masqueradeUpdate(t, base, next).split('\n').filter(Boolean)).toEqual([
      'delete element inet strait-nm-r1 cluster_v4 { 10.10.0.0/15 }',
      'delete element inet strait-nm-r1 egress_marks { 0x5e00 }',
      'add element inet strait-nm-r1 cluster_v4 { 10.11.0.0/16, 10.200.0.0/24 }',
    ]);
    expect(masqueradeUpdate(t, base, { ...base, clusterCidrs: [...base.clusterCidrs].reverse() })).toBe('');
    expect(masqueradeUpdate(t, base, next)).not.toMatch(/flush|delete (table|chain|rule)/);
  });

  it('reads the installed intent back from `nft -j list table` (addresses, prefixes, ranges, marks)', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { json_schema_version: 1 } },
        { table: { family: 'inet', name: 'strait-nm-r1' } },
        { set: { name: 'pod_v4', elem: [{ prefix: { addr: '10.11.0.0', len: 16 } }] } },
        { set: { name: 'pod_v6' } },
        { set: { name: 'cluster_v4', elem: [{ prefix: { addr: '10.10.0.0', len: 15 } }, { range: ['10.79.2.0', '10.79.2.9'] }, '10.80.0.1'] } },
        { set: { name: 'cluster_v6', elem: [{ prefix: { addr: 'fd00::', len: 16 } }] } },
        { set: { name: 'egress_marks', elem: [24065, 24064] } },
      ],
    });
    expect(masqueradeFromNftJson(json)).toEqual({ podCidrs: ['10.11.0.0/16'], clusterCidrs: ['10.10.0.0/15', '10.79.2.0-10.79.2.9', '10.80.0.1/32', 'fd00::/16'], egressMarks: [0x5e00, 0x5e01] });
    expect(masqueradeFromNftJson(JSON.stringify({ nftables: [{ table: { name: 'strait-nm-r1' } }] }))).toBeUndefined();
  });
});
