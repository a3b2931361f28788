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

  it('a selector policy keeps its egress IP while no pod matches; a matching pod only adds sources', () => {
    const leased = new Map([['billing/p', { ipv4: '172.30.0.100' }]]);
    const policies = [pol('p', 'billing', { appliedTo: { podSelector: { matchLabels: { app: 'nothing-yet' } } }, destSubnet: ['203.0.113.0/24'] })];
    const none = resolveEgress({ gateways: [gw('egw', { clusterDefault: true })], pods, namespaces, policies, leased });
    expect([none.rules, none.pending, none.gateways[0]?.egressIps]).toEqual([[], [], ['172.30.0.100']]);
    const unleased = resolveEgress({ gateways: [gw('egw', { clusterDefault: true })], pods, namespaces, policies });
    expect(unleased.pending).toEqual([{ policy: 'billing/p', gateway: 'egw', family: 'ipv4' }]); // leased before any pod matches
    const later = resolveEgress({
      gateways: [gw('egw', { clusterDefault: true })], namespaces, policies, leased,
      pods: [...pods, { namespace: 'billing', name: 'new', labels: { app: 'nothing-yet' }, ips: ['10.1.0.9'] }],
    });
    expect(later.rules.map((r) => [r.sources, r.egressIp])).toEqual([[['10.1.0.9/32'], '172.30.0.100']]);
    expect(later.gateways[0]?.egressIps).toEqual(['172.30.0.100']);
  });

  it('namespaceSelector follows namespace labels; kubernetes.io/metadata.name selects by name', () => {
    const cp = cpol('by-name', { appliedTo: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } }, egressIP: { useNodeIP: true, allocatorPolicy: 'default' } });
    const withName = namespaces.map((n) => ({ ...n, labels: { ...n.labels, 'kubernetes.io/metadata.name': n.name } }));
    expect(resolveEgress({ gateways: [gw('egw', { clusterDefault: true })], pods, namespaces: withName, clusterPolicies: [cp] }).rules.map((r) => r.sources)).toEqual([['10.1.0.7/32']]);
    const prod = cpol('prod', { appliedTo: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] } }, egressIP: { useNodeIP: true, allocatorPolicy: 'default' } });
    const relabelled = namespaces.map((n) => (n.name === 'shop' ? { ...n, labels: { env: 'prod' } } : n));
    expect(resolveEgress({ gateways: [gw('egw', { clusterDefault: true })], pods, namespaces, clusterPolicies: [prod] }).rules.map((r) => r.sources)).toEqual([['10.1.0.8/32']]);
    expect(resolveEgress({ gateways: [gw('egw', { clusterDefault: true })], pods, namespaces: relabelled, clusterPolicies: [prod] }).rules.map((r) => r.sources)).toEqual([['10.1.0.7/32', '10.1.0.8/32']]);
  });

  const malformed: { name: string; podSelector?: object; namespaceSelector?: object; says: string }[] = [
    { name: 'In without values', podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] }, says: 'appliedTo.podSelector.matchExpressions[0]: operator In needs at least one value' },
    { name: 'Exists with values', podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] }, says: 'operator Exists takes no values' },
    { name: 'bad label key', podSelector: { matchLabels: { 'app name': 'web' } }, says: 'label key "app name"' },
    { name: 'bad key prefix', podSelector: { matchLabels: { 'Example.COM/app': 'web' } }, says: 'the prefix must be a DNS subdomain' },
    { name: 'bad label value', podSelector: { matchLabels: { app: 'web server' } }, says: 'label value "web server" of app' },
    { name: 'value too long', namespaceSelector: { matchLabels: { env: 'x'.repeat(64) } }, says: 'appliedTo.namespaceSelector.matchLabels' },
    { name: 'unknown operator', podSelector: { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, says: 'unknown operator "Gt"' },
  ];
  for (const m of malformed) {
    it(`a malformed selector is refused with a clear error and nothing of that policy applies: ${m.name}`, () => {
      const bad = cpol('bad', { appliedTo: { ...(m.podSelector ? { podSelector: m.podSelector } : {}), ...(m.namespaceSelector ? { namespaceSelector: m.namespaceSelector } : {}) } as EgressClusterPolicy['spec']['appliedTo'], egressIP: { useNodeIP: true, allocatorPolicy: 'default' } });
      const good = pol('good', 'billing', { appliedTo: { podSelector: { matchLabels: { app: 'billing' } } }, egressIP: { useNodeIP: true, allocatorPolicy: 'default' } });
      const r = resolveEgress({ gateways: [gw('egw', { clusterDefault: true })], pods, namespaces, policies: [good], clusterPolicies: [bad] });
      const err = r.errors.find((e) => e.policy === 'bad')?.error;
      expect(err?.code).toBe('EGRESS_INVALID_POLICY');
      expect(err?.message).toContain(m.says);
      expect(r.rules.map((x) => x.policy)).toEqual(['billing/good', 'billing/good']);
    });
  }

  it('pickPoolIp takes the lowest free address and reports exhaustion', () => {
    const g = gw('egw');
    expect(pickPoolIp(g, 'ipv4', new Set())).toBe('172.30.0.100');
    expect(pickPoolIp(g, 'ipv4', new Set(['172.30.0.100']))).toBe('172.30.0.101');
    expect(() => pickPoolIp(g, 'ipv4', new Set(['172.30.0.100', '172.30.0.101', '172.30.0.102']))).toThrow(expect.objectContaining({ code: 'EGRESS_POOL_EXHAUSTED' }));
  });
});
