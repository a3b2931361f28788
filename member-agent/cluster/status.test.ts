import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { BrokerClient } from '../../api/index.js';
import { createLogger } from '../../host/index.js';
import { eventually, startTestBroker, startTestKubeApiServer, startTestRedis, type TestBroker, type TestKubeApiServer, type TestRedis } from '../../testing/index.js';
import { runPlugin } from '../cni-plugin/plugin.js';
import { startBrokerNodeAgent, type RunningBrokerNodeAgent } from '../node-agent/broker-node-agent.js';
import { joinCluster, readCredentials } from './join.js';
import { KubeClient } from './kube-client.js';
import { MemberAgent } from './member-agent.js';

// Status on every CRD, end to end: a real broker on real Redis, the test API server, `strait join`, the member
// agent and a broker-mode node agent allocating through the CNI plugin; the gateway agents' broker writes (health,
// the active flag, the egress IP lease) are made with the cluster credential exactly as the agents make them.
const log = createLogger('status-test', 'silent');
const IPAM = { group: 'ipam.strait.io', version: 'v1alpha1' };
const EGRESS = { group: 'egress.strait.io', version: 'v1alpha1' };
const MC = { group: 'multicluster.strait.io', version: 'v1alpha1' };
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
type Cond = { type: string; status: string; reason: string; message?: string; observedGeneration?: number };
type Obj = { metadata: { name: string; generation?: number }; spec: Record<string, unknown>; status?: Record<string, unknown> & { conditions?: Cond[] } };

const cond = (o: Obj | undefined, type: string): Cond | undefined => o?.status?.conditions?.find((c) => c.type === type);

describe('status subresources written by the member agent and the node agents', () => {
  let redis: TestRedis;
  let broker: TestBroker;
  let api: TestKubeApiServer;
  let kc: k8s.KubeConfig;
  let custom: k8s.CustomObjectsApi;
  let core: k8s.CoreV1Api;
  let agent: MemberAgent;
  let nodeAgent: RunningBrokerNodeAgent | undefined;
  let east: BrokerClient;
  let dir: string;
  const get = async (g: typeof IPAM, plural: string, name: string, namespace?: string): Promise<Obj | undefined> =>
    (await (namespace ? custom.getNamespacedCustomObject({ ...g, plural, namespace, name }) : custom.getClusterCustomObject({ ...g, plural, name })).catch(() => undefined)) as Obj | undefined;
  /** A gateway agent's publish (gateway/agents/agent-main.ts): its health and whether it holds the lease. */
  const publish = (name: string, health: 'Healthy' | 'Unhealthy', active: boolean): Promise<unknown> =>
    east.putGateway('east', name, { endpoints: [name === 'n1' ? '192.168.1.10' : '192.168.1.11'], tunnelTypes: ['vxlan'], health, active });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strait-status-'));
    redis = await startTestRedis();
    broker = await startTestBroker(redis.socket, { bookmarkMs: 500 });
    api = await startTestKubeApiServer({ bookmarkIntervalMs: 500 });
    kc = api.kubeConfig();
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    core = kc.makeApiClient(k8s.CoreV1Api);
    for (const [i, n] of ['n1', 'n2'].entries()) {
      await core.createNode({ body: { metadata: { name: n, labels: { 'strait.io/gateway': 'true' } }, spec: { podCIDRs: [`10.244.${i}.0/24`] }, status: { addresses: [{ type: 'InternalIP', address: `192.168.1.${10 + i}` }] } } });
    }
    await broker.admin.createPool({ name: 'pods', cidr: '10.92.0.0/24', blockSize: 28, purpose: 'pods', default: true });
    const token = (await broker.admin.createToken({ uses: 1 })).token;
    await joinCluster({ kubeConfig: kc, brokerUrl: broker.handle.url, token, clusterId: 'east', serviceCidrs: ['10.96.0.0/16'] });
    const creds = (await readCredentials(new KubeClient(kc)))!;
    east = new BrokerClient({ baseUrl: broker.handle.url, token: creds.token });
    // The records here are published by the test, not refreshed every 2 s: staleness is the plan tests' subject.
    agent = new MemberAgent({ kubeConfig: kc, leaseDurationMs: 2_000, resyncMs: 500, heartbeatMs: 2_000, brokerRetryMs: 100, gatewayStaleMs: 600_000, log });
    await agent.start();
    nodeAgent = await startBrokerNodeAgent({
      brokerUrl: broker.handle.url, token: creds.token, cluster: 'east', nodeName: 'n1', socketPath: join(dir, 'agent.sock'), stateDir: join(dir, 'state'), log,
      housekeepingIntervalMs: 3_600_000, kubeConfig: kc, poolStatusIntervalMs: 100,
    });
  });

  afterAll(async () => {
    await nodeAgent?.stop();
    await agent?.stop();
    east?.close();
    await api?.stop();
    await broker?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('IPPool: each node agent writes its blocks and allocated count; the member agent sums them and drops gone Nodes', async () => {
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: join(dir, 'agent.sock') } });
    await eventually('pool mirrored', async () => get(IPAM, 'ippools', 'pods'));
    for (const name of ['a', 'b']) {
      const uid = (await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] } } })).metadata!.uid!;
      const r = await runPlugin({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: `ctr-${name}`, CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_UID=${uid}` }, conf);
      expect(r.exitCode).toBe(0);
    }
    const block = (await broker.admin.listBlocks({ cluster: 'east' })).items.map((b) => b.cidr);
    expect(block).toHaveLength(1);
    const pool = await eventually('pool status summed', async () => {
      const p = await get(IPAM, 'ippools', 'pods');
      return p?.status?.allocatedIPs === 2 && p;
    });
    // 256 addresses less the network and broadcast ones.
    expect(pool.status).toMatchObject({ allocatedIPs: 2, blocks: 1, totalIPs: 254, nodes: { n1: { blocks: block, allocatedIPs: 2 } } });
    expect(cond(pool, 'Ready')?.status).toBe('True');

    // An entry of a Node that does not exist (deleted while its agent was down) is dropped from the sums.
    await custom.patchClusterCustomObjectStatus({ ...IPAM, plural: 'ippools', name: 'pods', body: { status: { nodes: { ghost: { blocks: ['10.92.0.240/28'], allocatedIPs: 5 } } } } }, merge);
    await eventually('ghost pruned', async () => {
      const p = await get(IPAM, 'ippools', 'pods');
      const nodes = p?.status?.nodes as Record<string, unknown> | undefined;
      return nodes && !('ghost' in nodes) && p?.status?.allocatedIPs === 2 && p.status.blocks === 1;
    });
    // Written only on change: a quiet node agent makes no further writes.
    const writes = nodeAgent!.poolStatus!.stats.writes;
    await nodeAgent!.poolStatus!.report();
    await nodeAgent!.poolStatus!.report();
    expect(nodeAgent!.poolStatus!.stats.writes).toBe(writes);
  });

  it('EgressGateway and EgressPolicy: candidates with health, the active node, the egress IP; they follow a failover', async () => {
    await broker.admin.createPool({ name: 'egress-egw-v4', cidr: '172.31.0.200/29', purpose: 'egress' });
    await custom.createClusterCustomObject({ ...EGRESS, plural: 'egressgateways', body: { apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressGateway', metadata: { name: 'egw' }, spec: { nodes: ['n1', 'n2'], ippools: { ipv4: ['172.31.0.200-172.31.0.207'] }, clusterDefault: true } } });
    await custom.createNamespacedCustomObject({ ...EGRESS, plural: 'egresspolicies', namespace: 'default', body: { apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressPolicy', metadata: { name: 'web' }, spec: { appliedTo: { podSelector: { matchLabels: { app: 'web' } } } } } });
    await custom.createNamespacedCustomObject({ ...EGRESS, plural: 'egresspolicies', namespace: 'default', body: { apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressPolicy', metadata: { name: 'lost' }, spec: { egressGatewayName: 'nope', appliedTo: { podSubnet: ['10.244.0.0/28'] } } } });

    // Before any gateway agent runs: not ready, and why.
    const waiting = await eventually('egw not ready', async () => {
      const g = await get(EGRESS, 'egressgateways', 'egw');
      return cond(g, 'Ready')?.status === 'False' && g;
    });
    expect(cond(waiting, 'Ready')).toMatchObject({ reason: 'NoActiveNode' });
    expect(waiting.status?.candidates).toEqual(['n1', 'n2']);
    expect(waiting.status?.nodes).toEqual([
      { name: 'n1', ready: false, active: false, health: 'Unknown' },
      { name: 'n2', ready: false, active: false, health: 'Unknown' },
    ]);
    const lost = await eventually('lost not ready', async () => {
      const p = await get(EGRESS, 'egresspolicies', 'lost', 'default');
      return cond(p, 'Ready') && p;
    });
    expect(cond(lost, 'Ready')).toMatchObject({ status: 'False', reason: 'GatewayNotFound', message: 'EgressGateway nope not found' });

    // The gateway agents publish; the candidates resolve the policy's IP (one broker lease per policy).
    await publish('n1', 'Healthy', true);
    await publish('n2', 'Healthy', false);
    const ip = (await east.leaseAddress('egress-egw-v4', { owner: 'egress:east:default/web', cluster: 'east' })).ip;
    const gw = await eventually('egw active on n1', async () => {
      const g = await get(EGRESS, 'egressgateways', 'egw');
      return g?.status?.activeNode === 'n1' && cond(g, 'Ready')?.status === 'True' && (g.status.nodes as { egressIPs?: string[] }[])[0]?.egressIPs?.length === 1 && g;
    });
    expect(gw.status?.nodes).toEqual([
      { name: 'n1', ready: true, active: true, health: 'Healthy', egressIPs: [ip] },
      { name: 'n2', ready: true, active: false, health: 'Healthy' },
    ]);
    expect(cond(gw, 'Synced')?.status).toBe('True');
    const pol = await eventually('policy ready', async () => {
      const p = await get(EGRESS, 'egresspolicies', 'web', 'default');
      return cond(p, 'Ready')?.status === 'True' && p;
    });
    expect(pol.status).toMatchObject({ eip: { ipv4: ip }, gateway: 'egw', node: 'n1', observedGeneration: pol.metadata.generation });
    expect(cond(pol, 'Ready')).toMatchObject({ reason: 'Active', observedGeneration: pol.metadata.generation });

    // Failover: n1 goes unhealthy and n2 takes the lease.
    await publish('n1', 'Unhealthy', false);
    await publish('n2', 'Healthy', true);
    await eventually('policy moved to n2', async () => (await get(EGRESS, 'egresspolicies', 'web', 'default'))?.status?.node === 'n2');
    const moved = (await get(EGRESS, 'egressgateways', 'egw'))!;
    expect(moved.status?.activeNode).toBe('n2');
    expect(moved.status?.nodes).toEqual([
      { name: 'n1', ready: false, active: false, health: 'Unhealthy' },
      { name: 'n2', ready: true, active: true, health: 'Healthy', egressIPs: [ip] },
    ]);
  });

  it('Gateway: the mirror of each gateway record carries its health, active flag and Ready', async () => {
    const g = await eventually('east.n2 status', async () => {
      const o = await get(MC, 'gateways', 'east.n2');
      return o?.status?.active === true && o;
    });
    expect(g.status).toMatchObject({ health: 'Healthy', active: true });
    expect(cond(g, 'Ready')?.status).toBe('True');
    const n1 = await eventually('east.n1 unhealthy', async () => {
      const o = await get(MC, 'gateways', 'east.n1');
      return o?.status?.health === 'Unhealthy' && o;
    });
    expect(n1.status?.active).toBe(false);
    expect(cond(n1, 'Ready')).toMatchObject({ status: 'False', reason: 'Unhealthy' });
  });

  it('a quiet cluster is written nothing: statuses change only when what they say changes', async () => {
    // Republishing the same health (as every gateway agent does every 2 s) and resyncs (every 500 ms here) write nothing.
    const from = api.store.rv;
    for (let i = 0; i < 4; i++) {
      await publish('n2', 'Healthy', true);
      await publish('n1', 'Unhealthy', false);
      await new Promise((r) => setTimeout(r, 400));
    }
    const writes = api.store.history.filter((e) => e.rv > from && !e.resource.includes('leases')).map((e) => `${e.resource} ${e.object.metadata.name}`);
    expect(writes).toEqual([]);
  });

  it('kubectl get shows every printer column filled (skipped without kubectl >= 1.27)', async () => {
    let minor = 0;
    try {
      minor = parseInt((JSON.parse(execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { clientVersion: { minor: string } }).clientVersion.minor, 10);
    } catch {
      // no kubectl
    }
    if (minor < 27) {
      console.warn('*** SKIPPED the kubectl part of member-agent/cluster/status.test.ts: no kubectl >= 1.27 on PATH ***');
      return;
    }
    await custom.createClusterCustomObject({ ...IPAM, plural: 'reservedips', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'ReservedIP', metadata: { name: 'routers' }, spec: { ips: ['10.92.0.1-10.92.0.3'], reason: 'routers' } } });
    await eventually('routers in force', async () => cond(await get(IPAM, 'reservedips', 'routers'), 'Ready')?.status === 'True');
    const base = ['--kubeconfig', api.writeKubeconfig(join(dir, 'kubeconfig')), '--cache-dir', join(dir, 'cache')];
    const kubectl = (...args: string[]): Promise<string[][]> =>
      new Promise((done, fail) => {
        execFile('kubectl', [...base, ...args], { encoding: 'utf8', timeout: 30_000 }, (e, out, err) => (e ? fail(new Error(`kubectl ${args.join(' ')}: ${err}`)) : done(out.trim().split('\n').map((l) => l.trim().split(/\s{2,}/)))));
      });
    const row = async (...args: string[]): Promise<Record<string, string>> => {
      const [head, first] = await kubectl(...args);
      return Object.fromEntries((head ?? []).map((h, i) => [h, first?.[i] ?? '']));
    };
    expect(await row('get', 'ippools', 'pods', '-o', 'wide')).toMatchObject({ NAME: 'pods', ALLOCATED: '2', BLOCKS: '1', TOTAL: '251', READY: 'True', SYNCED: 'True' });
    expect(await row('get', 'egressgateways')).toMatchObject({ NAME: 'egw', ACTIVE: 'n2', CANDIDATES: '["n1","n2"]', DEFAULT: 'true', READY: 'True' });
    const pol = await row('get', 'egresspolicies', 'web', '-n', 'default');
    expect(pol).toMatchObject({ NAME: 'web', GATEWAY: 'egw', NODE: 'n2', READY: 'True' });
    expect(pol.IPV4).toMatch(/^172\.31\.0\.20\d$/);
    expect(await row('get', 'gateways', 'east.n2')).toMatchObject({ CLUSTER: 'east', HEALTH: 'Healthy', ACTIVE: 'true', READY: 'True', SYNCED: 'True' });
    expect(await row('get', 'reservedips', 'routers', '-o', 'wide')).toMatchObject({ POOLS: '["pods"]', STATUS: 'InForce', READY: 'True', SYNCED: 'True' });
  });
});
