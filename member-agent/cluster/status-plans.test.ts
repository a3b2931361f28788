import { describe, it, expect } from '@jest/globals';
import type { AddressLease, Gateway, IPPool, ReservedIP } from '../../api/index.js';
import { planEgressStatuses, type EgressStatusInputs } from './egress-status-plan.js';
import { poolStatusFields, poolTotal } from './pool-status-plan.js';
import { planReservedIPs, reservedPlacement } from './reserved-ip-plan.js';
import type { KubeObject } from './kube-client.js';

// Table tests of the pure halves behind the statuses the member agent writes (status.test.ts runs them for real).
const T = '2026-12-05T22:00:00Z';
const NOW = Date.parse(T) + 1_000;
const pool = (name: string, cidr: string): IPPool => ({ name, cidr, blockSize: 28, purpose: 'pods', createdAt: T, resourceVersion: '1' });
const rsv = (name: string, ips: string[], cluster?: string, rv = '5'): ReservedIP => ({ name, ips, pools: [], createdAt: T, resourceVersion: rv, ...(cluster ? { cluster } : {}) });
const cr = (name: string, spec: Record<string, unknown>, meta: Partial<KubeObject['metadata']> = {}, status?: Record<string, unknown>): KubeObject =>
  ({ metadata: { name, ...meta }, spec, ...(status ? { status } : {}) });

describe('planReservedIPs', () => {
  const pools = new Map([['a', pool('a', '10.1.0.0/24')], ['b', pool('b', '10.2.0.0/24')]]);
  it('pushes a cluster CR owned by this cluster, with the pools its addresses fall in', () => {
    const p = planReservedIPs({ pools, reservedIPs: new Map() }, [cr('r', { ips: ['10.2.0.1', '10.1.0.5-10.1.0.9'], reason: 'x' })], 'east');
    expect(p.actions).toEqual([{ type: 'broker-put', name: 'r', body: { ips: ['10.2.0.1', '10.1.0.5-10.1.0.9'], reason: 'x', cluster: 'east' } }]);
    expect(p.verdicts[0]).toMatchObject({ pools: ['a', 'b'], owner: 'east', ready: { status: 'True', reason: 'InForce' }, synced: { reason: 'Pushed' } });
  });
  it('refuses an address outside every pool (or across a pool edge) without a broker call, naming the entry', () => {
    for (const ips of [['10.1.0.1', '10.9.0.1'], ['10.1.0.250-10.2.0.3']]) {
      const p = planReservedIPs({ pools, reservedIPs: new Map() }, [cr('r', { ips })], 'east');
      expect(p.actions).toEqual([]);
      expect(p.verdicts[0]).toMatchObject({ pools: [], ready: { status: 'False', reason: 'OutsideEveryPool', message: expect.stringContaining(`ips[${ips.length - 1}]`) }, synced: { status: 'False', reason: 'Invalid' } });
    }
  });
  it('mirrors another owner\'s, reverts an edit of the mirror, deletes a mirror the broker dropped and its own one without a CR', () => {
    const broker = { pools, reservedIPs: new Map([['w', rsv('w', ['10.1.0.7'], 'west')], ['mine', rsv('mine', ['10.1.0.8'], 'east')], ['adm', rsv('adm', ['10.2.0.9'])]]) };
    const mirror = (o: ReservedIP, ips = o.ips): KubeObject => cr(o.name, { ips }, { labels: { 'strait.io/origin': 'broker' }, annotations: { 'strait.io/broker-resource-version': o.resourceVersion } });
    const p = planReservedIPs(broker, [mirror(broker.reservedIPs.get('w')!, ['10.1.0.6']), cr('gone', { ips: ['10.1.0.1'] }, { labels: { 'strait.io/origin': 'broker' } })], 'east');
    expect(p.actions.map((a) => `${a.type}:${a.type === 'crd-create' ? a.object.metadata.name : a.name}`)).toEqual(['crd-create:adm', 'crd-delete:gone', 'broker-delete:mine', 'crd-patch:w']);
    expect(p.verdicts).toEqual([expect.objectContaining({ name: 'w', owner: 'west', conflict: expect.objectContaining({ reason: 'OwnedElsewhere' }) })]);
  });
  it('pushes an edit of its own with the broker resourceVersion; in sync otherwise', () => {
    const broker = { pools, reservedIPs: new Map([['mine', rsv('mine', ['10.1.0.8'], 'east', '9')]]) };
    expect(planReservedIPs(broker, [cr('mine', { ips: ['10.1.0.8'] })], 'east')).toMatchObject({ actions: [], verdicts: [{ synced: { reason: 'InSync' }, ready: { reason: 'InForce' } }] });
    expect(planReservedIPs(broker, [cr('mine', { ips: ['10.1.0.8', '10.1.0.9'] })], 'east').actions).toEqual([{ type: 'broker-put', name: 'mine', body: { ips: ['10.1.0.8', '10.1.0.9'], cluster: 'east', resourceVersion: '9' } }]);
  });
  it('reservedPlacement keeps families apart', () => {
    expect(reservedPlacement(['fd00::1'], [pool('a', '10.1.0.0/24'), pool('six', 'fd00::/64')])).toEqual({ pools: ['six'] });
    expect(reservedPlacement(['fd01::1'], [pool('six', 'fd00::/64')])).toEqual({ outside: 'fd01::1', index: 0 });
  });
});

describe('poolStatusFields', () => {
  it('sums the node entries, drops those of gone Nodes, and counts what the pool can hand out', () => {
    const p = cr('p', { cidr: '10.1.0.0/24', excludeIPs: ['10.1.0.10-10.1.0.19'], gateway: '10.1.0.1' }, {}, {
      nodes: { n1: { blocks: ['10.1.0.0/28'], allocatedIPs: 3 }, n2: { blocks: ['10.1.0.16/28', '10.1.0.32/28'], allocatedIPs: 20 }, gone: { blocks: ['10.1.0.48/28'], allocatedIPs: 1 } },
    });
    expect(poolStatusFields(p, new Set(['n1', 'n2']), ['10.1.0.100'])).toEqual({ fields: { allocatedIPs: 23, blocks: 3, totalIPs: 254 - 1 - 10 - 1 }, prune: ['gone'] });
    // Without a complete list of Nodes nothing is pruned (and the unknown node still counts).
    expect(poolStatusFields(p, undefined, [])).toEqual({ fields: { allocatedIPs: 24, blocks: 4, totalIPs: 243 }, prune: [] });
  });
  it('totals: ips ranges, an IPv6 pool too large for a number, a spec that does not parse', () => {
    expect(poolTotal({ cidr: '10.1.0.0/24', ips: ['10.1.0.10-10.1.0.50'] }, ['10.1.0.20'])).toBe(40);
    expect(poolTotal({ cidr: 'fd00::/120' }, [])).toBe(255);
    expect(poolTotal({ cidr: 'fd00::/64' }, [])).toBeUndefined();
    expect(poolTotal({}, [])).toBeUndefined();
  });
});

describe('planEgressStatuses', () => {
  const gwRec = (name: string, health: Gateway['health'], active: boolean, at = T): Gateway =>
    ({ cluster: 'east', name, endpoints: ['192.0.2.1'], tunnelTypes: ['vxlan'], publicKeys: {}, priority: 100, health, active, updatedAt: at, resourceVersion: '1' });
  const lease = (ip: string, owner: string, pool = 'egress-egw-v4'): AddressLease => ({ ip, pool, owner, cluster: 'east', createdAt: T, resourceVersion: '1' });
  const base = (over: Partial<EgressStatusInputs> = {}): EgressStatusInputs => ({
    clusterId: 'east', now: NOW, staleMs: 10_000,
    egressGateways: [cr('egw', { nodeSelector: { matchLabels: { gw: 'yes' } }, ippools: { ipv4: ['172.31.0.200-172.31.0.207'] }, clusterDefault: true })],
    egressPolicies: [cr('web', { appliedTo: { podSelector: {} }, egressIP: { useNodeIP: false } }, { namespace: 'default' })],
    egressClusterPolicies: [],
    nodes: [{ name: 'n2', labels: { gw: 'yes' }, annotations: {}, internalIPs: ['192.168.1.11'] }, { name: 'n1', labels: { gw: 'yes' }, annotations: {}, internalIPs: ['192.168.1.10'] }, { name: 'x', labels: {}, annotations: {}, internalIPs: [] }],
    gateways: new Map([['east/n1', gwRec('n1', 'Healthy', true)], ['east/n2', gwRec('n2', 'Healthy', false)]]),
    egressLeases: new Map([['172.31.0.206', lease('172.31.0.206', 'egress:east:default/web')]]),
    ...over,
  });
  const find = (v: ReturnType<typeof planEgressStatuses>, name: string) => v.find((x) => x.name === name)!;

  it('candidates by selector in name order; the active one carries the egress IPs; the policy is Ready on it', () => {
    const v = planEgressStatuses(base());
    expect(find(v, 'egw')).toMatchObject({
      fields: { candidates: ['n1', 'n2'], activeNode: 'n1', nodes: [{ name: 'n1', active: true, health: 'Healthy', egressIPs: ['172.31.0.206'] }, { name: 'n2', active: false }] },
      ready: { status: 'True', reason: 'Active' },
    });
    expect(find(v, 'web')).toMatchObject({ kind: 'EgressPolicy', namespace: 'default', fields: { gateway: 'egw', eip: { ipv4: '172.31.0.206' }, node: 'n1' }, ready: { status: 'True' } });
  });
  it('a silent record is Unknown and not active; of two claims the later one holds', () => {
    const stale = planEgressStatuses(base({ now: NOW + 20_000, gateways: new Map([['east/n1', gwRec('n1', 'Healthy', true)], ['east/n2', gwRec('n2', 'Healthy', true, new Date(NOW + 15_000).toISOString())]]) }));
    expect(find(stale, 'egw').fields).toMatchObject({ activeNode: 'n2', nodes: [{ name: 'n1', health: 'Unknown', active: false }, { name: 'n2', active: true }] });
    const both = planEgressStatuses(base({ gateways: new Map([['east/n1', gwRec('n1', 'Healthy', true)], ['east/n2', gwRec('n2', 'Healthy', true, new Date(NOW - 100).toISOString())]]) }));
    expect(find(both, 'egw').fields.activeNode).toBe('n2');
  });
  it('says why a policy is not in force', () => {
    const none = planEgressStatuses(base({ gateways: new Map() }));
    expect(find(none, 'egw').ready).toMatchObject({ status: 'False', reason: 'NoActiveNode', message: expect.stringContaining('n1 Unknown') });
    expect(find(none, 'web').ready).toMatchObject({ status: 'False', reason: 'NoActiveGatewayNode' });
    expect(find(planEgressStatuses(base({ egressLeases: new Map() })), 'web').ready).toMatchObject({ reason: 'EgressIPPending' });
    const missing = planEgressStatuses(base({ egressPolicies: [cr('p', { egressGatewayName: 'nope', appliedTo: { podSubnet: ['10.0.0.0/24'] } }, { namespace: 'ns' })] }));
    expect(find(missing, 'p')).toMatchObject({ fields: { gateway: 'nope' }, ready: { reason: 'GatewayNotFound', message: 'EgressGateway nope not found' } });
    const outside = planEgressStatuses(base({ egressPolicies: [cr('p', { appliedTo: { podSelector: {} }, egressIP: { ipv4: '10.9.9.9' } }, { namespace: 'ns' })] }));
    expect(find(outside, 'p').ready).toMatchObject({ reason: 'EgressIPNotInPool' });
    expect(find(planEgressStatuses(base({ egressGateways: [cr('egw', { nodes: [], clusterDefault: true })] })), 'egw').ready.reason).toBe('NoCandidates');
  });
  it('useNodeIP reports the active node\'s own address; a fixed IP in the pool is reported as is', () => {
    const node = planEgressStatuses(base({ egressClusterPolicies: [cr('cp', { appliedTo: {}, egressIP: { useNodeIP: true } })] }));
    expect(find(node, 'cp')).toMatchObject({ kind: 'EgressClusterPolicy', fields: { eip: { ipv4: '192.168.1.10' }, node: 'n1' }, ready: { status: 'True' } });
    const fixed = planEgressStatuses(base({ egressPolicies: [cr('p', { appliedTo: { podSelector: {} }, egressIP: { ipv4: '172.31.0.201' } }, { namespace: 'ns' })] }));
    expect(find(fixed, 'p').fields.eip).toEqual({ ipv4: '172.31.0.201' });
  });
});
