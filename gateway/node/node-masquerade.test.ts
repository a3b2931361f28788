import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BrokerClient } from '../../api/index.js';
import { createLogger, newRunId } from '../../host/index.js';
import { startTestBroker, startTestRedis, waitFor, type TestBroker, type TestRedis } from '../../testing/index.js';
import { RecordingNodeMasquerade } from '../egress/datapath-fake.js';
import { EgressBrokerSource } from '../egress/egress-broker-source.js';
import { ClusterNetworkSource } from './cluster-network-source.js';
import { NodeMasqueradeKeeper } from './node-masquerade-keeper.js';
import { masqueradeIntent, type ClusterNetworks } from './node-masquerade-plan.js';

const silent = createLogger('test', 'silent');

describe('masqueradeIntent (pure)', () => {
  const networks: ClusterNetworks = {
    clusters: [
      { id: 'east', podCIDRs: ['10.11.0.0/16'], serviceCIDRs: ['10.96.0.0/12'] },
      { id: 'west', podCIDRs: ['10.12.0.0/16', 'fd12::/48'], serviceCIDRs: [] },
    ],
    pools: [
      { name: 'east-extra', cidr: '10.200.0.0/24', purpose: 'pods', cluster: 'east' },
      { name: 'shared', cidr: '10.201.0.0/24', purpose: 'pods' },
      { name: 'west-extra', cidr: '10.202.0.0/24', purpose: 'pods', cluster: 'west' },
      { name: 'egress-egw-v4', cidr: '172.31.0.200/29', purpose: 'egress', cluster: 'east' },
    ],
  };

  it('sources: the cluster\'s pod CIDRs and the pod pools it may use; kept: every cluster\'s CIDRs and pod pools', () => {
    const i = masqueradeIntent({ cluster: 'east', networks, staticClusterCidrs: ['10.50.0.0/24'], egressRules: [{ mark: 0x5e01 }, { mark: 0x5e00 }] });
    expect([...i.podCidrs].sort()).toEqual(['10.11.0.0/16', '10.200.0.0/24', '10.201.0.0/24']);
    expect([...i.clusterCidrs].sort()).toEqual(['10.11.0.0/16', '10.12.0.0/16', '10.200.0.0/24', '10.201.0.0/24', '10.202.0.0/24', '10.50.0.0/24', '10.96.0.0/12', 'fd12::/48']);
    expect(i.egressMarks).toEqual([0x5e01, 0x5e00]);
  });

  it('a cluster the broker does not know yet has only its pools as sources; another cluster\'s pools are never sources', () => {
    const i = masqueradeIntent({ cluster: 'north', networks, staticClusterCidrs: [], egressRules: [] });
    expect(i.podCidrs).toEqual(['10.201.0.0/24']);
  });
});

// The keeper over the recording datapath, fed by the source following a real broker on a real redis-server.
describe('node masquerade following the broker', () => {
  let redis: TestRedis;
  let broker: TestBroker;
  let east: BrokerClient;
  const runId = newRunId();
  const E = `east-${runId}`;
  const W = `west-${runId}`;
  const sources: ClusterNetworkSource[] = [];
  const clients: BrokerClient[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    broker = await startTestBroker(redis.socket);
    east = await broker.join(E, ['10.11.0.0/16']);
    clients.push(east);
  });
  afterAll(async () => {
    for (const s of sources) await s.stop();
    for (const c of clients) c.close();
    await broker?.stop();
    await redis?.stop();
  });

  it('installs once the networks are known, and a cluster joining or leaving and a new pool change only the sets', async () => {
    const dp = new RecordingNodeMasquerade();
    const keeper = new NodeMasqueradeKeeper({ cluster: E, staticClusterCidrs: ['10.50.0.0/24'], datapath: dp, log: silent });
    await keeper.setEgressRules([{ mark: 0x5e00, sources: ['10.11.0.5/32'] }]);
    expect(dp.calls).toEqual([]); // nothing before the networks are known
    const src = new ClusterNetworkSource({ broker: east, log: silent, retryMs: 50, onChange: (n) => keeper.setNetworks(n) });
    sources.push(src);
    await keeper.setNetworks(await src.start());
    expect(await dp.current()).toEqual({ podCidrs: ['10.11.0.0/16'], clusterCidrs: ['10.11.0.0/16', '10.50.0.0/24'], egressMarks: [0x5e00] });

    // Another cluster joins: its CIDRs are kept from then on.
    const west = await broker.join(W, ['10.20.0.0/16']);
    clients.push(west);
    await waitFor('west in the kept set', async () => (await dp.current())?.clusterCidrs.includes('10.20.0.0/16') === true);
    // A pool of this cluster: a source, and kept.
    await east.createPool({ name: `extra-${runId}`, cidr: '10.200.0.0/24', purpose: 'pods' });
    await waitFor('the pool as a source', async () => (await dp.current())?.podCidrs.includes('10.200.0.0/24') === true);
    expect((await dp.current())?.clusterCidrs).toEqual(['10.11.0.0/16', '10.20.0.0/16', '10.50.0.0/24', '10.200.0.0/24']);

    // A heartbeat rewrites the Cluster record but changes nothing the plan reads: no datapath call.
    const calls = dp.calls.length;
    await west.heartbeat(W);
    await east.heartbeat(E);
    await new Promise((r) => setTimeout(r, 300));
    expect(dp.calls.length).toBe(calls);

    // A policy selects another pod: the new mark joins the set, then that pod's masqueraded flows are forgotten
    // (their next packets are marked and reach the gateway with the pod's address).
    await keeper.setEgressRules([{ mark: 0x5e00, sources: ['10.11.0.5/32'] }, { mark: 0x5e01, sources: ['10.11.0.6/32', '10.11.0.5/32'] }]);
    expect((await dp.current())?.egressMarks).toEqual([0x5e00, 0x5e01]);
    expect(dp.calls.slice(-2).map((c) => [c.op, c.op === 'forget' ? c.args : undefined])).toEqual([['ensure', undefined], ['forget', ['10.11.0.6/32']]]);
    // The rules go: their marks leave the set; nothing newly selected, nothing forgotten.
    await keeper.setEgressRules([]);
    expect((await dp.current())?.egressMarks).toEqual([]);
    expect(dp.calls.at(-1)?.op).toBe('ensure');

    // West leaves: its pod CIDR is outside from now on.
    await broker.admin.removeCluster(W);
    await waitFor('west gone from the kept set', async () => (await dp.current())?.clusterCidrs.includes('10.20.0.0/16') === false);
  }, 30_000);

  it('with egress from the broker, follows that source\'s watch (one watch per node)', async () => {
    const dp = new RecordingNodeMasquerade();
    const keeper = new NodeMasqueradeKeeper({ cluster: E, staticClusterCidrs: [], datapath: dp, log: silent });
    const nets = new ClusterNetworkSource({ broker: east, log: silent, retryMs: 50, onChange: (n) => keeper.setNetworks(n) });
    const egress = new EgressBrokerSource({ cluster: E, broker: east, log: silent, follower: nets });
    try {
      await egress.start();
      await keeper.setNetworks(await nets.start({ ownWatch: false }));
      expect((await dp.current())?.podCidrs).toContain('10.11.0.0/16');
      const north = await broker.join(`north-${runId}`, ['10.30.0.0/16']);
      clients.push(north);
      await waitFor('north in the kept set', async () => (await dp.current())?.clusterCidrs.includes('10.30.0.0/16') === true);
    } finally {
      await egress.stop();
      await nets.stop();
    }
  }, 30_000);

  it('a credential the broker refuses fails at start (no endless retry)', async () => {
    const refused = broker.client('bad.token');
    clients.push(refused);
    const src = new ClusterNetworkSource({ broker: refused, log: silent, retryMs: 50 });
    sources.push(src);
    await expect(src.start()).rejects.toMatchObject({ status: 401 });
  });
});
