import { describe, it, expect } from '@jest/globals';
import type { BrokerEgressClusterPolicy, BrokerEgressGateway, BrokerEgressPolicy } from '../../api/index.js';
import type { KubeObject } from './kube-client.js';
import { canonical, planEgressPush, pushableLabels, type EgressBrokerView } from './egress-push-plan.js';

const T = '2026-01-01T00:00:00Z';
const view = (g: BrokerEgressGateway[] = [], p: BrokerEgressPolicy[] = [], c: BrokerEgressClusterPolicy[] = []): EgressBrokerView => ({
  egressGateways: new Map(g.map((x) => [x.name, x])),
  egressPolicies: new Map(p.map((x) => [`${x.namespace}/${x.name}`, x])),
  egressClusterPolicies: new Map(c.map((x) => [x.name, x])),
});
const crd = (name: string, spec: Record<string, unknown>, meta: Partial<KubeObject['metadata']> = {}): KubeObject => ({ metadata: { name, ...meta }, spec });
const bgw = (name: string, spec: BrokerEgressGateway['spec'], rv = '5'): BrokerEgressGateway => ({ cluster: 'east', name, spec, labels: {}, createdAt: T, updatedAt: T, resourceVersion: rv });

describe('planEgressPush (pure)', () => {
  it('creates what the broker lacks, with the defaults the broker fills in; in sync means no write', () => {
    const p = planEgressPush(view(), { egressGateways: [crd('g', { nodes: ['n1'] })], egressPolicies: [], egressClusterPolicies: [] });
    expect(p.actions).toEqual([{ type: 'egress-put', kind: 'EgressGateway', name: 'g', body: { spec: { nodes: ['n1'], ippools: {}, clusterDefault: false }, labels: {} } }]);
    const again = planEgressPush(view([bgw('g', { nodes: ['n1'], ippools: {}, clusterDefault: false })]), { egressGateways: [crd('g', { nodes: ['n1'] })], egressPolicies: [], egressClusterPolicies: [] });
    expect(again.actions).toEqual([]);
    expect(again.verdicts[0]).toMatchObject({ synced: true, reason: 'InSync' });
  });

  it('pushes a changed spec with the broker resourceVersion; deletes broker objects without a CRD or whose CRD is being deleted', () => {
    const p = planEgressPush(
      view([bgw('g', { nodes: ['n1'], ippools: {}, clusterDefault: false }, '7'), bgw('gone', { nodes: ['n1'], ippools: {}, clusterDefault: false })], [
        { cluster: 'east', namespace: 'ns', name: 'p', spec: { appliedTo: { podSubnet: ['10.0.0.0/24'] }, egressIP: { useNodeIP: false, allocatorPolicy: 'default' }, priority: 100 }, labels: {}, createdAt: T, updatedAt: T, resourceVersion: '3' },
      ]),
      { egressGateways: [crd('g', { nodes: ['n2'] })], egressPolicies: [crd('p', { appliedTo: { podSubnet: ['10.0.0.0/24'] } }, { namespace: 'ns', deletionTimestamp: T })], egressClusterPolicies: [] },
    );
    expect(p.actions).toEqual([
      { type: 'egress-put', kind: 'EgressGateway', name: 'g', body: { spec: { nodes: ['n2'], ippools: {}, clusterDefault: false }, labels: {}, resourceVersion: '7' } },
      { type: 'egress-delete', kind: 'EgressGateway', name: 'gone' },
      { type: 'egress-delete', kind: 'EgressPolicy', namespace: 'ns', name: 'p' },
    ]);
  });

  it('an object the broker schema refuses is not pushed and reports Invalid', () => {
    const p = planEgressPush(view(), { egressGateways: [], egressPolicies: [], egressClusterPolicies: [crd('c', { priority: 5000, appliedTo: {} })] });
    expect(p.actions).toEqual([]);
    expect(p.verdicts[0]).toMatchObject({ kind: 'EgressClusterPolicy', name: 'c', synced: false, reason: 'Invalid' });
  });

  it('labels the broker cannot hold stay in the cluster; canonical JSON ignores key order', () => {
    expect(pushableLabels({ app: 'a', [`${'x'.repeat(70)}/k`]: 'v' })).toEqual({ app: 'a' });
    expect(canonical({ b: 1, a: [{ d: 1, c: 2 }] })).toBe(canonical({ a: [{ c: 2, d: 1 }], b: 1 }));
  });
});
