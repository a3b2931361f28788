import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StraitError, type BrokerClient } from '../../api/index.js';
import { newRunId } from '../../host/index.js';
import { startTestRedis, type TestRedis, waitFor, startTestBroker, type TestBroker } from '../../testing/index.js';
import { RecordingGatewayEgress, RecordingNodeEgress } from './datapath-fake.js';
import { gatewayEgressConfig, LiveGatewayEgress, LiveNodeEgress } from './egress-broker-datapath.js';
import { EgressBrokerSource, type EgressBrokerClient } from './egress-broker-source.js';
import { datapathConformance } from './datapath.conformance.js';
import { RecordingNodeMasquerade, RecordingNodeRoutes } from './datapath-fake.js';
import type { ResolvedEgress } from './egress-resolve.js';
import { createLogger } from '../../host/index.js';

const silent = createLogger('test', 'silent');

// A real broker on a real redis-server: egress objects pushed by the cluster, pool IPs leased from its pool.
describe('EgressBrokerSource against a real broker', () => {
  let redis: TestRedis;
  let broker: TestBroker;
  let east: BrokerClient;
  let west: BrokerClient;
  const runId = newRunId();
  const E = `east-${runId}`;
  const W = `west-${runId}`;
  const sources: EgressBrokerSource[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    broker = await startTestBroker(redis.socket);
    const t = await broker.admin.createToken({ uses: 2 });
    east = broker.client((await broker.admin.joinCluster({ id: E, podCIDRs: ['10.50.0.0/24'] }, t.token)).credentials.token);
    west = broker.client((await broker.admin.joinCluster({ id: W, podCIDRs: ['10.60.0.0/24'] }, t.token)).credentials.token);
  });
  afterAll(async () => {
    for (const s of sources) await s.stop();
    await broker?.stop();
    await redis?.stop();
  });

  it('resolves the cluster\'s objects with pool IPs leased by policy owner, and follows new, changed and deleted policies', async () => {
    await east.createPool({ name: 'egress-egw-v4', cidr: '172.31.0.200/29', purpose: 'egress' });
    await east.putEgressGateway(E, 'egw', { spec: { nodes: ['gw1', 'gw2'], clusterDefault: true, ippools: { ipv4: ['172.31.0.200-172.31.0.207'] } } });
    await east.putEgressPolicy(E, 'default', 'pod-out', { spec: { appliedTo: { podSubnet: ['10.50.0.2/32'] }, destSubnet: ['172.31.0.100/32'] } });
    // Another cluster's objects never leak in.
    await west.putEgressGateway(W, 'egw', { spec: { nodes: ['w1'], ippools: { ipv4: ['172.31.1.200-172.31.1.207'] } } });
    await west.putEgressPolicy(W, 'default', 'other', { spec: { appliedTo: { podSubnet: ['10.60.0.2/32'] }, egressIP: { useNodeIP: true } } });

    const changes: ResolvedEgress[] = [];
    const src = new EgressBrokerSource({ cluster: E, broker: east, clusterCidrs: ['10.50.0.0/24'], log: silent, onChange: (r) => void changes.push(r) });
    sources.push(src);
    const first = await src.start();
    expect(first.errors).toEqual([]);
    expect(first.rules).toHaveLength(1);
    const eip1 = first.rules[0]!.egressIp;
    expect(eip1).toMatch(/^172\.31\.0\.20[0-7]$/);
    expect(first.rules[0]).toMatchObject({ policy: 'default/pod-out', gateway: 'egw', sources: ['10.50.0.2/32'], destinations: ['172.31.0.100/32'] });
    expect(first.gateways).toEqual([{ name: 'egw', candidates: ['gw1', 'gw2'], egressIps: [eip1] }]);
    // The lease owner is the one the member agent reports for GC.
    const leases = await east.listAddresses({ pool: 'egress-egw-v4' });
    expect(leases.items.map((l) => [l.ip, l.owner])).toEqual([[eip1, `egress:${E}:default/pod-out`]]);

    // A second candidate resolving the same objects gets the same IP (leasing is idempotent per owner).
    const again = new EgressBrokerSource({ cluster: E, broker: east, clusterCidrs: ['10.50.0.0/24'], log: silent });
    sources.push(again);
    expect((await again.start()).rules[0]!.egressIp).toBe(eip1);

    // A new cluster policy: a new rule with its own leased IP.
    await east.putEgressClusterPolicy(E, 'all-out', { spec: { appliedTo: { podSubnet: ['10.50.0.3/32'] }, destSubnet: ['172.31.0.101/32'], priority: 10 } });
    await waitFor('the new rule', () => changes.at(-1)?.rules.length === 2);
    const r2 = changes.at(-1)!;
    const eip2 = r2.rules.find((r) => r.policy === 'all-out')!.egressIp;
    expect(eip2).not.toBe(eip1);
    expect(r2.gateways[0]!.egressIps).toEqual([eip1, eip2].sort());

    // Changed policy (new destination) and a deleted one.
    await east.putEgressPolicy(E, 'default', 'pod-out', { spec: { appliedTo: { podSubnet: ['10.50.0.2/32'] }, destSubnet: ['172.31.0.0/24'] } });
    await waitFor('the changed rule', () => changes.at(-1)?.rules.find((r) => r.policy === 'default/pod-out')?.destinations[0] === '172.31.0.0/24');
    expect(changes.at(-1)!.rules.find((r) => r.policy === 'default/pod-out')!.egressIp).toBe(eip1);
    await east.deleteEgressClusterPolicy(E, 'all-out');
    await waitFor('the rule gone', () => changes.at(-1)?.rules.length === 1);

    // A policy whose gateway's pool does not exist yet holds back only itself, and resolves once the pool appears.
    await east.putEgressGateway(E, 'egw2', { spec: { nodes: ['gw1', 'gw2'], ippools: { ipv4: ['172.31.0.210-172.31.0.214'] } } });
    await east.putEgressPolicy(E, 'default', 'late', { spec: { egressGatewayName: 'egw2', appliedTo: { podSubnet: ['10.50.0.4/32'] } } });
    await waitFor('the lease error', () => changes.at(-1)?.errors.some((e) => e.policy === 'default/late') === true);
    expect(changes.at(-1)!.rules.map((r) => r.policy)).toEqual(['default/pod-out']);
    await east.createPool({ name: 'egress-egw2-v4', cidr: '172.31.0.208/29', purpose: 'egress' });
    await waitFor('the late policy resolved', () => changes.at(-1)?.rules.some((r) => r.policy === 'default/late') === true);
    expect(changes.at(-1)!.errors).toEqual([]);
  }, 30_000);

  it('a broker that cannot lease right now (restarting) takes no IP away: a policy keeps the IP leased before', async () => {
    // Issue #12: when the broker came back after a restart, the agents re-listed and re-resolved; a lease call
    // that failed meanwhile dropped the egress IP from the gateway's config, which took it off a gateway that
    // served it correctly (dark three times in one trial).
    await east.createPool({ name: 'egress-egw3-v4', cidr: '172.31.0.216/29', purpose: 'egress' });
    await east.putEgressGateway(E, 'egw3', { spec: { nodes: ['gw1', 'gw2'], ippools: { ipv4: ['172.31.0.216-172.31.0.223'] } } });
    await east.putEgressPolicy(E, 'default', 'steady', { spec: { egressGatewayName: 'egw3', appliedTo: { podSubnet: ['10.50.0.5/32'] } } });
    let failing = false;
    const flaky: EgressBrokerClient = {
      listEgressGateways: (o) => east.listEgressGateways(o),
      listEgressPolicies: (o) => east.listEgressPolicies(o),
      listEgressClusterPolicies: (o) => east.listEgressClusterPolicies(o),
      leaseAddress: (pool, req) => (failing ? Promise.reject(new StraitError('UNAVAILABLE', 'broker unreachable: connect ECONNREFUSED')) : east.leaseAddress(pool, req)),
      watch: (since, f, signal) => east.watch(since, f, signal),
    };
    const changes: ResolvedEgress[] = [];
    const src = new EgressBrokerSource({ cluster: E, broker: flaky, clusterCidrs: ['10.50.0.0/24'], log: silent, onChange: (r) => void changes.push(r) });
    sources.push(src);
    const before = (await src.start()).gateways.find((g) => g.name === 'egw3')?.egressIps;
    expect(before).toHaveLength(1);
    failing = true;
    // Something changes at the broker while it cannot lease: every policy is re-resolved.
    await east.putEgressPolicy(E, 'default', 'newcomer', { spec: { egressGatewayName: 'egw3', appliedTo: { podSubnet: ['10.50.0.6/32'] } } });
    await waitFor('the re-resolution', () => changes.length > 0);
    const after = changes.at(-1)!;
    expect(after.gateways.find((g) => g.name === 'egw3')?.egressIps).toEqual(before);
    expect(after.rules.find((r) => r.policy === 'default/steady')?.egressIp).toBe(before?.[0]);
    // The newcomer never had an IP: it waits (reported), and gets one once the broker answers again.
    expect(after.errors.map((e) => e.policy)).toEqual(['default/newcomer']);
    failing = false;
    await waitFor('the newcomer resolved', () => changes.at(-1)?.rules.some((r) => r.policy === 'default/newcomer') === true, 10_000);
  }, 30_000);

  it('selectors resolve over the view\'s pods; a pod change re-resolves without asking the broker; a malformed selector holds back only its policy', async () => {
    await east.createPool({ name: 'egress-egw4-v4', cidr: '172.31.0.224/29', purpose: 'egress' });
    await east.putEgressGateway(E, 'egw4', { spec: { nodes: ['gw1'], ippools: { ipv4: ['172.31.0.224-172.31.0.231'] } } });
    await east.putEgressPolicy(E, 'shop', 'web', { spec: { egressGatewayName: 'egw4', appliedTo: { podSelector: { matchLabels: { app: 'web' } } } } });
    // The broker checks a selector's shape; Kubernetes' rules on it are checked where it is resolved.
    await east.putEgressPolicy(E, 'shop', 'broken', { spec: { egressGatewayName: 'egw4', appliedTo: { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] } } } });
    let leases = 0;
    const counting: EgressBrokerClient = {
      listEgressGateways: (o) => east.listEgressGateways(o),
      listEgressPolicies: (o) => east.listEgressPolicies(o),
      listEgressClusterPolicies: (o) => east.listEgressClusterPolicies(o),
      leaseAddress: (pool, req) => {
        leases++;
        return east.leaseAddress(pool, req);
      },
      watch: (since, f, signal) => east.watch(since, f, signal),
    };
    // The cluster as the agent's informers would show it (their own test: gateway/agents/egress-selectors.test.ts).
    let pods = [{ namespace: 'shop', name: 'w1', labels: { app: 'web' }, ips: ['10.50.0.7'] }];
    let changed: () => void = () => undefined;
    const view = { start: (f: () => void) => ((changed = f), Promise.resolve()), snapshot: () => ({ pods, namespaces: [{ name: 'shop', labels: {} }] }), stop: () => Promise.resolve() };
    const changes: ResolvedEgress[] = [];
    const src = new EgressBrokerSource({ cluster: E, broker: counting, clusterCidrs: ['10.50.0.0/24'], log: silent, view, onChange: (r) => void changes.push(r) });
    sources.push(src);
    const first = await src.start();
    const web = (r: ResolvedEgress) => r.rules.find((x) => x.policy === 'shop/web');
    expect(web(first)?.sources).toEqual(['10.50.0.7/32']);
    expect(first.errors.find((e) => e.policy === 'shop/broken')?.error).toMatchObject({ code: 'EGRESS_INVALID_POLICY', message: expect.stringContaining('operator In needs at least one value') });
    expect(first.rules.some((x) => x.policy === 'shop/broken')).toBe(false);
    const leasesAtStart = leases;
    pods = [...pods, { namespace: 'shop', name: 'w2', labels: { app: 'web' }, ips: ['10.50.0.8'] }];
    changed();
    await waitFor('the second pod', () => web(changes.at(-1) ?? first)?.sources.length === 2);
    expect(web(changes.at(-1)!)).toMatchObject({ sources: ['10.50.0.7/32', '10.50.0.8/32'], egressIp: web(first)?.egressIp });
    expect(leases).toBe(leasesAtStart); // the pods changed, not the objects: the leases are the ones known
  }, 30_000);
});

describe('live egress datapaths', () => {
  const rule = (policy: string, ip: string, gateway = 'egw') => ({
    policy, gateway, family: 'ipv4' as const, priority: 100, sources: ['10.50.0.2/32'], destinations: ['0.0.0.0/0'], egressIp: ip, mark: 0x5e00,
  });
  const resolved = (rules: ReturnType<typeof rule>[]): ResolvedEgress => ({
    rules, gateways: [{ name: 'egw', candidates: [], egressIps: [...new Set(rules.map((r) => r.egressIp))].sort() }], pending: [], errors: [], clusterCidrs: [],
  });

  it('gateway: an update while serving re-applies, drops removed IPs and makes the wanted ones live with the last lease deadline', async () => {
    let now = 1000;
    const inner = new RecordingGatewayEgress(() => now);
    const live = new LiveGatewayEgress(inner, gatewayEgressConfig(resolved([rule('a', '172.31.0.201')]), 'egw'), () => now);
    await live.apply();
    expect(await live.serve(live.config.egressIps, 1500)).toEqual(['172.31.0.201']);
    await live.update(gatewayEgressConfig(resolved([rule('b', '172.31.0.202')]), 'egw'));
    expect(live.config.egressIps).toEqual(['172.31.0.202']);
    expect(await inner.live()).toEqual(['172.31.0.202']);
    expect(inner.calls.find((c) => c.op === 'release')?.args).toEqual(['172.31.0.201']);
    // A renewal that still carries the old IP does not bring it back.
    await live.serve(['172.31.0.201', '172.31.0.202'], 1600);
    expect(await inner.live()).toEqual(['172.31.0.202']);
    // Not serving (lease dropped): an update applies but makes nothing live.
    await live.release();
    now = 2000;
    await live.update(gatewayEgressConfig(resolved([rule('c', '172.31.0.203')]), 'egw'));
    expect(await inner.live()).toEqual([]);
  });

  it('gateway: an update that changes nothing for this gateway (a relist after a broker restart) touches nothing', async () => {
    const now = 1000;
    const inner = new RecordingGatewayEgress(() => now);
    const cfg = (): ReturnType<typeof gatewayEgressConfig> => gatewayEgressConfig(resolved([rule('a', '172.31.0.201')]), 'egw');
    const live = new LiveGatewayEgress(inner, cfg(), () => now);
    await live.apply();
    await live.serve(live.config.egressIps, 1500);
    const calls = inner.calls.length;
    await live.update(cfg());
    // Before: apply (tables rebuilt, the fence dark) and serve again, on every relist.
    expect(inner.calls.slice(calls)).toEqual([]);
    expect(await inner.live()).toEqual(['172.31.0.201']);
  });

  it('node: the same rules again (a relist) re-apply nothing', async () => {
    const inner = new RecordingNodeEgress();
    const live = new LiveNodeEgress(inner, { rules: [], candidates: [{ name: 'gw1', address: '10.50.0.11', priority: 100 }], clusterCidrs: [] });
    await live.apply();
    live.noteActive('gw1');
    await live.update([rule('a', '172.31.0.201')]);
    const calls = inner.calls.length;
    await live.update([rule('a', '172.31.0.201')]);
    expect(inner.calls.slice(calls)).toEqual([]);
  });

  it('node: rules that appear later are steered to the candidate the agent chose', async () => {
    const inner = new RecordingNodeEgress();
    const live = new LiveNodeEgress(inner, { rules: [], candidates: [{ name: 'gw1', address: '10.50.0.11', priority: 100 }], clusterCidrs: [] });
    await live.apply();
    await live.update([rule('a', '172.31.0.201')]);
    expect(inner.calls.filter((c) => c.op === 'steer')).toEqual([]); // no choice known yet
    live.noteActive('gw1');
    await live.update([rule('a', '172.31.0.201'), rule('b', '172.31.0.202', 'egw2')]);
    expect(inner.calls.at(-1)).toMatchObject({ op: 'steer', args: new Map([['egw', 'gw1'], ['egw2', 'gw1']]) });
    expect(live.config.rules.map((r) => r.policy)).toEqual(['a', 'b']);
  });
});

// The live wrappers keep the datapath contract: the same conformance suite as the Linux datapath and the fake.
datapathConformance('live (broker-following) egress over the recording fake', () => {
  let t = 0;
  return Promise.resolve({
    routes: new RecordingNodeRoutes(),
    nodeEgress: new LiveNodeEgress(new RecordingNodeEgress(), { rules: [], candidates: [], clusterCidrs: [] }),
    nodeMasquerade: new RecordingNodeMasquerade(),
    gatewayEgress: new LiveGatewayEgress(new RecordingGatewayEgress(() => t), { rules: [], egressIps: [] }, () => t),
    sleep: (ms: number) => {
      t += ms;
      return Promise.resolve();
    },
    now: () => t,
    teardown: () => Promise.resolve(),
  });
});
