import { describe, it, expect } from '@jest/globals';
import type { EgressClusterPolicy, EgressGateway, EgressPolicy } from '../../crds/index.js';
import { EGRESS_MARK_BASE, pickPoolIp, resolveEgress, type NamespaceInfo, type PodInfo } from './egress-resolve.js';

const gw = (name: string, spec: Partial<EgressGateway['spec']> = {}): EgressGateway => ({
  apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressGateway', metadata: { name },
  spec: { ippools: { ipv4: ['172.30.0.100-172.30.0.102'], ipv6: ['fd00:30::100-fd00:30::101'] }, clusterDefault: false, ...spec },
});
const pol = (name: string, ns: string, spec: Partial<EgressPolicy['spec']>): EgressPolicy => ({
  apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressPolicy', metadata: { name, namespace: ns },
  spec: { egressIP: { useNodeIP: false, allocatorPolicy: 'default' }, priority: 100, appliedTo: {}, ...spec },
});
const cpol = (name: string, spec: Partial<EgressClusterPolicy['spec']>): EgressClusterPolicy => ({
  apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressClusterPolicy', metadata: { name },
  spec: { egressIP: { useNodeIP: false, allocatorPolicy: 'default' }, priority: 100, appliedTo: {}, ...spec },
});
const pods: PodInfo[] = [
  { namespace: 'billing', name: 'b1', labels: { app: 'billing' }, ips: ['10.1.0.5', 'fd00:1::5'] },
  { namespace: 'billing', name: 'b2', labels: { app: 'other' }, ips: ['10.1.0.6'] },
  { namespace: 'shop', name: 's1', labels: { app: 'billing' }, ips: ['10.1.0.7'] },
  { namespace: 'prod', name: 'p1', labels: { tier: 'web' }, ips: ['10.1.0.8'] },
];
const namespaces: NamespaceInfo[] = [{ name: 'billing', labels: {} }, { name: 'shop', labels: {} }, { name: 'prod', labels: { env: 'prod' } }];

describe('resolveEgress', () => {
  it('pod selector stays in the policy namespace; fixed IP in the pool; both families', () => {
    const r = resolveEgress({
      gateways: [gw('egw', { clusterDefault: true })], pods, namespaces,
      policies: [pol('p', 'billing', { appliedTo: { podSelector: { matchLabels: { app: 'billing' } } }, destSubnet: ['203.0.113.0/24'], egressIP: { useNodeIP: false, allocatorPolicy: 'default', ipv4: '172.30.0.101' } })],
    });
    expect(r.errors).toEqual([]);
    expect(r.rules).toEqual([
      { policy: 'billing/p', gateway: 'egw', family: 'ipv4', priority: 100, sources: ['10.1.0.5/32'], destinations: ['203.0.113.0/24'], egressIp: '172.30.0.101', mark: EGRESS_MARK_BASE },
    ]);
    expect(r.gateways[0]?.egressIps).toEqual(['172.30.0.101']);
  });

  it('no destinations means everything, per family; pool IPs are pending until leased', () => {
    const input = {
      gateways: [gw('egw', { clusterDefault: true })], pods, namespaces,
      policies: [pol('p', 'billing', { appliedTo: { podSelector: { matchLabels: { app: 'billing' } } } })],
    };
    const r = resolveEgress(input);
    expect(r.rules).toEqual([]);
    expect(r.pending).toEqual([{ policy: 'billing/p', gateway: 'egw', family: 'ipv4' }, { policy: 'billing/p', gateway: 'egw', family: 'ipv6' }]);
    const r2 = resolveEgress({ ...input, leased: new Map([['billing/p', { ipv4: '172.30.0.100', ipv6: 'fd00:30::100' }]]) });
    expect(r2.rules.map((x) => [x.family, x.destinations, x.egressIp, x.sources])).toEqual([
      ['ipv4', ['0.0.0.0/0'], '172.30.0.100', ['10.1.0.5/32']],
      ['ipv6', ['::/0'], 'fd00:30::100', ['fd00:1::5/128']],
    ]);
  });

  it('cluster policy: namespace selector + pod subnet; useNodeIP; priority orders rules', () => {
    const r = resolveEgress({
      gateways: [gw('egw', { clusterDefault: true }), gw('other')], pods, namespaces,
      policies: [pol('low', 'billing', { priority: 10, appliedTo: { podSubnet: ['10.1.0.0/24'] }, egressIP: { useNodeIP: true, allocatorPolicy: 'default' } })],
      clusterPolicies: [cpol('prod', { priority: 500, egressGatewayName: 'other', appliedTo: { namespaceSelector: { matchLabels: { env: 'prod' } } }, egressIP: { useNodeIP: false, allocatorPolicy: 'default', ipv4: '172.30.0.102' } })],
    });
    expect(r.rules.map((x) => [x.policy, x.gateway, x.sources, x.egressIp, x.mark])).toEqual([
      ['prod', 'other', ['10.1.0.8/32'], '172.30.0.102', EGRESS_MARK_BASE],
      ['billing/low', 'egw', ['10.1.0.0/24'], 'node', EGRESS_MARK_BASE + 1],
    ]);
  });

  const errorCases: { name: string; policy: EgressPolicy; gateways?: EgressGateway[]; code: string }[] = [
    { name: 'unknown gateway', policy: pol('p', 'a', { egressGatewayName: 'nope', appliedTo: { podSubnet: ['10.1.0.0/24'] } }), code: 'EGRESS_GATEWAY_NOT_FOUND' },
    { name: 'no default gateway', policy: pol('p', 'a', { appliedTo: { podSubnet: ['10.1.0.0/24'] } }), gateways: [gw('egw')], code: 'EGRESS_GATEWAY_NOT_FOUND' },
    { name: 'fixed IP outside the pools', policy: pol('p', 'a', { appliedTo: { podSubnet: ['10.1.0.0/24'] }, egressIP: { useNodeIP: false, allocatorPolicy: 'default', ipv4: '1.2.3.4' } }), code: 'EGRESS_IP_NOT_IN_POOL' },
    { name: 'useNodeIP with a fixed IP', policy: pol('p', 'a', { appliedTo: { podSubnet: ['10.1.0.0/24'] }, egressIP: { useNodeIP: true, allocatorPolicy: 'default', ipv4: '172.30.0.100' } }), code: 'EGRESS_INVALID_POLICY' },
    { name: 'bad destination CIDR', policy: pol('p', 'a', { appliedTo: { podSubnet: ['10.1.0.0/24'] }, destSubnet: ['10.0.0.1/8'] }), code: 'EGRESS_INVALID_POLICY' },
  ];
  for (const c of errorCases) {
    it(`reports, and skips only the bad policy: ${c.name}`, () => {
      const good = pol('good', 'a', { appliedTo: { podSubnet: ['10.2.0.0/24'] }, egressIP: { useNodeIP: true, allocatorPolicy: 'default' } });
      const r = resolveEgress({ gateways: c.gateways ?? [gw('egw', { clusterDefault: true })], policies: [c.policy, good] });
      expect(r.errors.find((e) => e.policy === 'a/p')?.error.code).toBe(c.code);
      expect(r.rules.map((x) => x.policy)).toEqual(c.gateways ? [] : ['a/good']);
    });
  }

  it('pickPoolIp takes the lowest free address and reports exhaustion', () => {
    const g = gw('egw');
    expect(pickPoolIp(g, 'ipv4', new Set())).toBe('172.30.0.100');
    expect(pickPoolIp(g, 'ipv4', new Set(['172.30.0.100']))).toBe('172.30.0.101');
    expect(() => pickPoolIp(g, 'ipv4', new Set(['172.30.0.100', '172.30.0.101', '172.30.0.102']))).toThrow(expect.objectContaining({ code: 'EGRESS_POOL_EXHAUSTED' }));
  });
});
