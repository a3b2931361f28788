import { describe, it, expect } from '@jest/globals';
import type { Gateway, IPPool, Subnet } from '../../api/index.js';
import type { KubeObject } from './kube-client.js';
import { BROKER_RV_ANNOTATION, ORIGIN_LABEL, SYNC_FINALIZER, SYNCED_SPEC_ANNOTATION, syncedPoolFields, gatewayCandidateOf, planSync, type BrokerView, type ClusterView, type NodeInfo, type SyncPlan } from './sync-plan.js';

const T = '2026-01-01T00:00:00Z';
const subnet = (name: string, cidr: string, rv: string, description?: string): Subnet => ({ name, cidr, createdAt: T, resourceVersion: rv, ...(description ? { description } : {}) });
const pool = (name: string, cidr: string, rv: string, extra: Partial<IPPool> = {}): IPPool => ({ name, cidr, blockSize: 26, purpose: 'pods', createdAt: T, resourceVersion: rv, ...extra });
const crd = (name: string, spec: Record<string, unknown>, meta: { origin?: string; rv?: string; finalizers?: string[]; deleting?: boolean } = {}): KubeObject => ({
  metadata: {
    name,
    ...(meta.origin ? { labels: { [ORIGIN_LABEL]: meta.origin } } : {}),
    ...(meta.rv ? { annotations: { [BROKER_RV_ANNOTATION]: meta.rv } } : {}),
    ...(meta.finalizers ? { finalizers: meta.finalizers } : {}),
    ...(meta.deleting ? { deletionTimestamp: T } : {}),
  },
  spec,
});
const broker = (b: Partial<{ subnets: Subnet[]; pools: IPPool[]; gateways: Gateway[] }>): BrokerView => ({
  subnets: new Map((b.subnets ?? []).map((s) => [s.name, s])),
  pools: new Map((b.pools ?? []).map((p) => [p.name, p])),
  gateways: new Map((b.gateways ?? []).map((g) => [`${g.cluster}/${g.name}`, g])),
  clusters: new Map(),
});
const cluster = (c: Partial<ClusterView>): ClusterView => ({ clusterId: 'east', subnets: [], pools: [], gateways: [], nodes: [], ...c });
const types = (p: SyncPlan): string[] => p.actions.map((a) => `${a.type}:${'name' in a ? a.name : 'object' in a ? a.object.metadata.name : ''}`);

describe('planSync: Subnets (broker-owned)', () => {
  it.each([
    ['mirrors a new broker subnet', broker({ subnets: [subnet('g', '10.0.0.0/8', '5')] }), cluster({}), ['crd-create:g']],
    ['does nothing when in sync', broker({ subnets: [subnet('g', '10.0.0.0/8', '5')] }), cluster({ subnets: [crd('g', { cidr: '10.0.0.0/8' }, { origin: 'broker', rv: '5' })] }), []],
    ['applies a newer broker version', broker({ subnets: [subnet('g', '10.0.0.0/8', '7', 'new')] }), cluster({ subnets: [crd('g', { cidr: '10.0.0.0/8' }, { origin: 'broker', rv: '5' })] }), ['crd-patch:g']],
    ['reverts a local edit of a mirrored subnet', broker({ subnets: [subnet('g', '10.0.0.0/8', '5')] }), cluster({ subnets: [crd('g', { cidr: '11.0.0.0/8' }, { origin: 'broker', rv: '5' })] }), ['crd-patch:g']],
    ['deletes the mirror of a deleted broker subnet', broker({}), cluster({ subnets: [crd('g', { cidr: '10.0.0.0/8' }, { origin: 'broker', rv: '5' })] }), ['crd-delete:g']],
    ['leaves a local subnet alone', broker({}), cluster({ subnets: [crd('l', { cidr: '10.0.0.0/8' })] }), []],
  ])('%s', (_n, b, c, want) => {
    expect(types(planSync(b, c))).toEqual(want);
  });

  it('reports a reverted local edit as Conflict/BrokerOwned and a local subnet as LocalOnly', () => {
    const p = planSync(broker({ subnets: [subnet('g', '10.0.0.0/8', '5')] }), cluster({ subnets: [crd('g', { cidr: '11.0.0.0/8' }, { origin: 'broker', rv: '5' }), crd('l', { cidr: '12.0.0.0/8' })] }));
    expect(p.verdicts.find((v) => v.name === 'g')?.conflict?.reason).toBe('BrokerOwned');
    expect(p.verdicts.find((v) => v.name === 'l')).toMatchObject({ synced: false, reason: 'LocalOnly' });
  });
});

describe('planSync: IPPools (two-way)', () => {
  const mine = { origin: 'east', rv: '5', finalizers: [SYNC_FINALIZER] };
  const east = { cluster: 'east' };
  it.each([
    ['mirrors a broker pool', broker({ pools: [pool('p', '10.1.0.0/24', '5')] }), cluster({}), ['crd-create:p']],
    ['pushes a pool created in the cluster', broker({}), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'pods' })] }), ['broker-create-pool:p']],
    ['deletes a mirror whose broker pool is gone', broker({}), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24' }, { origin: 'broker', rv: '5' })] }), ['crd-delete:p']],
    ['in sync: only adds the finalizer to its own pool', broker({ pools: [pool('p', '10.1.0.0/24', '5', east)] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', blockSize: 26, purpose: 'pods' }, { origin: 'east', rv: '5' })] }), ['crd-patch:p']],
    ['in sync with finalizer: nothing', broker({ pools: [pool('p', '10.1.0.0/24', '5', east)] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', blockSize: 26, purpose: 'pods' }, mine)] }), []],
    ['pushes a local description edit', broker({ pools: [pool('p', '10.1.0.0/24', '5', east)] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'pods', description: 'x' }, mine)] }), ['broker-put-pool:p']],
    ['broker newer wins over a local edit', broker({ pools: [pool('p', '10.1.0.0/24', '9', { description: 'b', ...east })] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', description: 'x' }, mine)] }), ['crd-patch:p']],
    ['reverts a cidr edit', broker({ pools: [pool('p', '10.1.0.0/24', '5', east)] }), cluster({ pools: [crd('p', { cidr: '10.2.0.0/24' }, mine)] }), ['crd-patch:p']],
    ['deleting its own pool deletes it at the broker first', broker({ pools: [pool('p', '10.1.0.0/24', '5', east)] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24' }, { ...mine, deleting: true })] }), ['broker-delete-pool:p']],
    ['reverts a local edit of another cluster\'s pool', broker({ pools: [pool('p', '10.1.0.0/24', '5', { cluster: 'west' })] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'pods', description: 'x' }, { origin: 'broker', rv: '5' })] }), ['crd-patch:p']],
    ['reverts a local edit of an admin pool', broker({ pools: [pool('p', '10.1.0.0/24', '5')] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'egress' }, { origin: 'broker', rv: '5' })] }), ['crd-patch:p']],
    ['deleting a pool another cluster owns never deletes it at the broker', broker({ pools: [pool('p', '10.1.0.0/24', '5', { cluster: 'west' })] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24' }, { ...mine, deleting: true })] }), ['crd-patch:p']],
    ['deleting a mirror only drops the finalizer (the mirror comes back)', broker({ pools: [pool('p', '10.1.0.0/24', '5')] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24' }, { origin: 'broker', rv: '5', finalizers: [SYNC_FINALIZER], deleting: true })] }), ['crd-patch:p']],
  ])('%s', (_n, b, c, want) => {
    expect(types(planSync(b, c))).toEqual(want);
  });

  it('the push carries the broker resourceVersion it was based on (a stale push is refused by the broker)', () => {
    const p = planSync(broker({ pools: [pool('p', '10.1.0.0/24', '5', east)] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'egress' }, mine)] }));
    expect(p.actions[0]).toEqual({ type: 'broker-put-pool', name: 'p', body: { purpose: 'egress', resourceVersion: '5' } });
  });

  it('pushes a new pool owned by this cluster; an edit of a pool owned elsewhere is reverted as Conflict/OwnedElsewhere', () => {
    const push = planSync(broker({}), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'pods' })] }));
    expect(push.actions[0]).toMatchObject({ type: 'broker-create-pool', body: { name: 'p', cidr: '10.1.0.0/24', cluster: 'east' } });
    const west = planSync(broker({ pools: [pool('p', '10.1.0.0/24', '5', { cluster: 'west', description: 'w' })] }), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'egress' }, { origin: 'broker', rv: '5' })] }));
    expect(west.actions[0]).toMatchObject({ type: 'crd-patch', patch: { spec: { purpose: 'pods', description: 'w' } } });
    expect(west.verdicts[0]).toMatchObject({ synced: true, conflict: { reason: 'OwnedElsewhere', message: expect.stringContaining('cluster west') } });
  });

  it('a cidr edit is reported as Conflict/ImmutableField; a lost edit as BrokerChanged', () => {
    const a = planSync(broker({ pools: [pool('p', '10.1.0.0/24', '5', east)] }), cluster({ pools: [crd('p', { cidr: '10.2.0.0/24' }, mine)] }));
    expect(a.verdicts[0]?.conflict?.reason).toBe('ImmutableField');
    // The CRD still says what the agent last wrote: the broker simply moved on, no conflict.
    const untouched = crd('p', { cidr: '10.1.0.0/24', blockSize: 26, purpose: 'pods' }, mine);
    untouched.metadata.annotations = { ...untouched.metadata.annotations, [SYNCED_SPEC_ANNOTATION]: syncedPoolFields(untouched.spec!) };
    expect(planSync(broker({ pools: [pool('p', '10.1.0.0/24', '9', { description: 'b', ...east })] }), cluster({ pools: [untouched] })).verdicts[0]?.conflict).toBeUndefined();
    // The CRD was edited after that and the broker moved on: the edit is lost, and said so.
    const edited = { ...untouched, spec: { ...untouched.spec, description: 'x' } };
    const b = planSync(broker({ pools: [pool('p', '10.1.0.0/24', '9', { description: 'b', ...east })] }), cluster({ pools: [edited] }));
    expect(b.verdicts[0]?.conflict?.reason).toBe('BrokerChanged');
  });

  it('is idempotent: applying the plan to the mirror yields an empty plan', () => {
    const b = broker({ pools: [pool('p', '10.1.0.0/24', '5', { description: 'd', subnet: 's' })] });
    const p = planSync(b, cluster({}));
    const created = (p.actions[0] as { object: KubeObject }).object;
    expect(types(planSync(b, cluster({ pools: [created] })))).toEqual([]);
  });
});

describe('planSync: IPPool allocation rules travel both ways', () => {
  const mine = { origin: 'east', rv: '5', finalizers: [SYNC_FINALIZER] };
  const rules = { ips: ['10.1.0.10-10.1.0.50'], namespaceAffinity: { matchLabels: { 'kubernetes.io/metadata.name': 'frontend' } }, default: true, routes: [{ dst: '10.96.0.0/12', gw: '10.1.0.1' }] };

  it('mirrors a broker pool with its rules; the mirror is then in sync (key order does not matter)', () => {
    const b = broker({ pools: [pool('p', '10.1.0.0/24', '5', { cluster: 'west', ...rules })] });
    const p = planSync(b, cluster({}));
    const created = (p.actions[0] as { object: KubeObject }).object;
    expect(created.spec).toMatchObject({ ...rules, disable: false });
    // As the API server may hand it back: keys reordered.
    const reordered = { ...created, spec: Object.fromEntries(Object.entries(created.spec!).reverse()) };
    expect(types(planSync(b, cluster({ pools: [reordered] })))).toEqual([]);
  });

  it('pushes the rules of a pool created in the cluster, and a local edit of its own pool\'s rules (a removed rule is removed)', () => {
    const push = planSync(broker({}), cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', purpose: 'pods', disable: false, ...rules })] }));
    expect(push.actions[0]).toEqual({ type: 'broker-create-pool', name: 'p', body: { name: 'p', cidr: '10.1.0.0/24', purpose: 'pods', cluster: 'east', ...rules } });
    const b = broker({ pools: [pool('p', '10.1.0.0/24', '5', { cluster: 'east', ...rules })] });
    const edit = planSync(b, cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', blockSize: 26, purpose: 'pods', default: true, disable: true }, mine)] }));
    expect(edit.actions).toEqual([{ type: 'broker-put-pool', name: 'p', body: { purpose: 'pods', default: true, disable: true, resourceVersion: '5' } }]);
  });

  it('a broker change of the rules reaches the CRD; a rule dropped at the broker is removed there', () => {
    const b = broker({ pools: [pool('p', '10.1.0.0/24', '9', { cluster: 'west', default: true })] });
    const p = planSync(b, cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', blockSize: 26, purpose: 'pods', ...rules }, { origin: 'broker', rv: '5' })] }));
    expect(p.actions).toEqual([expect.objectContaining({ type: 'crd-patch', name: 'p', patch: expect.objectContaining({ spec: expect.objectContaining({ ips: null, namespaceAffinity: null, routes: null, default: true, disable: false }) }) })]);
  });

  it('an edit of the rules of a pool owned elsewhere is reverted (Conflict/OwnedElsewhere)', () => {
    const b = broker({ pools: [pool('p', '10.1.0.0/24', '5', { cluster: 'west', ...rules })] });
    const p = planSync(b, cluster({ pools: [crd('p', { cidr: '10.1.0.0/24', blockSize: 26, purpose: 'pods', ...rules, ips: ['10.1.0.60'] }, { origin: 'broker', rv: '5' })] }));
    expect(p.actions).toEqual([expect.objectContaining({ type: 'crd-patch', patch: expect.objectContaining({ spec: expect.objectContaining({ ips: rules.ips }) }) })]);
    expect(p.verdicts[0]?.conflict?.reason).toBe('OwnedElsewhere');
  });

  it('a broker pool the node agents refuse (an older broker stored it) is mirrored with Ready=False saying why', () => {
    const p = planSync(broker({ pools: [pool('p6', 'fd00:128::/64', '5', { blockSize: 96 })] }), cluster({}));
    expect(types(p)).toEqual(['crd-create:p6']);
    expect(p.verdicts[0]).toMatchObject({ synced: true, notReady: { reason: 'RefusedByNodeAgents', message: expect.stringContaining('blockSize 96 must be a prefix length between 112 and 126') } });
    expect(planSync(broker({ pools: [pool('ok', '10.1.0.0/24', '5')] }), cluster({})).verdicts[0]?.notReady).toBeUndefined();
  });
});

describe('planSync: Gateways', () => {
  const gw = (cluster: string, name: string, rv: string): Gateway => ({ cluster, name, endpoints: ['192.0.2.1'], tunnelTypes: ['vxlan'], publicKeys: {}, priority: 100, health: 'Healthy', updatedAt: T, resourceVersion: rv });
  const node = (name: string, labels: Record<string, string>, annotations: Record<string, string> = {}): NodeInfo => ({ name, labels, annotations, internalIPs: ['192.168.0.5'] });

  it('mirrors every broker gateway as <cluster>.<name> and deletes mirrors of gone ones', () => {
    const p = planSync(broker({ gateways: [gw('west', 'gw1', '3')] }), cluster({ gateways: [crd('old.gw', {}, { origin: 'broker', rv: '1' })] }));
    expect(types(p)).toEqual(['crd-create:west.gw1', 'crd-delete:old.gw']);
  });

  it('pushes labelled nodes as gateway candidates, keeping the broker health', () => {
    const p = planSync(broker({}), cluster({ nodes: [node('n1', { 'strait.io/gateway': 'true' }, { 'strait.io/tunnel-types': 'wireguard,vxlan', 'strait.io/wireguard-public-key': 'K' }), node('n2', {})] }));
    expect(p.actions).toEqual([{ type: 'broker-put-gateway', cluster: 'east', name: 'n1', body: { endpoints: ['192.168.0.5'], tunnelTypes: ['wireguard', 'vxlan'], publicKeys: { wireguard: 'K' }, priority: 100, health: 'Unknown' } }]);
  });

  it('deletes this cluster\'s broker gateways whose Node lost the label or is gone; other clusters\' and labelled ones stay', () => {
    const p = planSync(
      broker({ gateways: [gw('east', 'n1', '3'), gw('east', 'n2', '4'), gw('east', 'gone', '5'), gw('east', 'noaddr', '6'), gw('west', 'n2', '7')] }),
      cluster({ nodes: [node('n1', { 'strait.io/gateway': 'true' }), node('n2', {}), { name: 'noaddr', labels: { 'strait.io/gateway': 'true' }, annotations: {}, internalIPs: [] }] }),
    );
    expect(p.actions.filter((a) => a.type === 'broker-delete-gateway')).toEqual([
      { type: 'broker-delete-gateway', cluster: 'east', name: 'n2' },
      { type: 'broker-delete-gateway', cluster: 'east', name: 'gone' },
    ]);
  });

  it('gatewayCandidateOf prefers the endpoint annotation and skips nodes without an address', () => {
    expect(gatewayCandidateOf(node('n', { 'strait.io/gateway': 'true' }, { 'strait.io/gateway-endpoint': '203.0.113.9' }))?.endpoints).toEqual(['203.0.113.9']);
    expect(gatewayCandidateOf({ name: 'n', labels: { 'strait.io/gateway': 'true' }, annotations: {}, internalIPs: [] })).toBeUndefined();
  });
});
