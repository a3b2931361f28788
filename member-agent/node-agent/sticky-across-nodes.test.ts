import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createLogger, waitFor } from '../../host/index.js';
import { cidrContains, parseCidr, parseIp } from '../../ipam/index.js';
import { startTestBroker, startTestKubeApiServer, startTestRedis, type TestBroker, type TestKubeApiServer, type TestRedis } from '../../testing/index.js';
import { runPlugin } from '../cni-plugin/plugin.js';
import { startBrokerNodeAgent, type RunningBrokerNodeAgent } from './broker-node-agent.js';

// A StatefulSet pod deleted on node n1 and re-created on node n2 keeps its IP: two broker-mode node agents of one
// cluster (real broker on real Redis, each its own state dir), pods in the test API server, ADD through each
// agent's socket with the plugin as containerd runs it.
const dir = mkdtempSync(join(tmpdir(), 'strait-sticky-nodes-'));
const log = createLogger('sticky-test', 'silent');
let redis: TestRedis;
let broker: TestBroker;
let api: TestKubeApiServer;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
const agents: Record<string, RunningBrokerNodeAgent> = {};

const sock = (node: string): string => join(dir, `${node}.sock`);
const conf = (node: string): string => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: sock(node) } });
const env = (cmd: string, ctr: string, ns: string, name: string, uid: string): NodeJS.ProcessEnv => ({
  CNI_COMMAND: cmd, CNI_CONTAINERID: ctr, CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0',
  CNI_ARGS: `K8S_POD_INFRA_CONTAINER_ID=${ctr};K8S_POD_UID=${uid};IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name}`,
});

async function createPod(name: string, node: string, sts?: string): Promise<string> {
  const p = await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name, ...(sts ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts, uid: 'x', controller: true }] } : {}) },
      spec: { nodeName: node, containers: [{ name: 'c', image: 'i' }] },
    },
  });
  return p.metadata!.uid!;
}

async function add(node: string, ctr: string, name: string, uid: string): Promise<string> {
  const r = await runPlugin(env('ADD', ctr, 'default', name, uid), conf(node));
  if (r.exitCode !== 0) throw new Error(`ADD ${name} on ${node} failed: ${r.stdout}`);
  return (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!;
}

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  api = await startTestKubeApiServer({ bookmarkIntervalMs: 500 });
  core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
  apps = api.kubeConfig().makeApiClient(k8s.AppsV1Api);
  await broker.admin.createPool({ name: 'pods', cidr: '10.92.0.0/24', blockSize: 28, purpose: 'pods', default: true });
  const jt = await broker.admin.createToken({ uses: 1 });
  const token = (await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, jt.token)).credentials.token;
  for (const node of ['n1', 'n2']) {
    await core.createNode({ body: { metadata: { name: node } } });
    agents[node] = await startBrokerNodeAgent({
      brokerUrl: broker.handle.url, token, cluster: 'east', nodeName: node, socketPath: sock(node), stateDir: join(dir, `${node}-state`), log,
      housekeepingIntervalMs: 3_600_000, podGc: { kubeConfig: api.kubeConfig(), graceMs: 200, intervalMs: 100 },
    });
  }
}, 30_000);

afterAll(async () => {
  for (const a of Object.values(agents)) await a.stop().catch(() => undefined);
  await broker?.stop();
  await api?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('StatefulSet addresses bound at the broker (two node agents of one cluster)', () => {
  it('a StatefulSet pod deleted on n1 and re-created on n2 keeps its IP; nobody else gets it; it goes when the StatefulSet goes', async () => {
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: { metadata: { name: 'db' }, spec: { serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
    const u1 = await createPod('db-0', 'n1', 'db');
    const ip = await add('n1', 'ctr-1', 'db-0', u1);
    // The address is the broker's, bound to the ordinal, outside every node's blocks.
    const leases = (await broker.admin.listAddresses({ cluster: 'east' })).items;
    expect(leases).toEqual([expect.objectContaining({ ip, pool: 'pods', owner: 'sts:east:default/db/0/eth0' })]);
    // Ordinary pods on both nodes fill blocks; none of them gets the StatefulSet's address.
    const others: string[] = [];
    for (const node of ['n1', 'n2']) {
      for (let i = 0; i < 20; i++) {
        const name = `${node}-web-${i}`;
        others.push(await add(node, `ctr-${name}`, name, await createPod(name, node)));
      }
    }
    expect(others).not.toContain(ip);
    const blocks = (await broker.admin.listBlocks({ cluster: 'east' })).items;
    expect(blocks.some((b) => cidrContains(parseCidr(b.cidr), 'ipv4', parseIp(ip).value))).toBe(false);

    // n1's pod goes (kubelet's DEL, then the API object), the controller re-creates it on n2.
    expect((await runPlugin(env('DEL', 'ctr-1', 'default', 'db-0', u1), conf('n1'))).exitCode).toBe(0);
    await core.deleteNamespacedPod({ namespace: 'default', name: 'db-0' });
    const u2 = await createPod('db-0', 'n2', 'db');
    expect(await add('n2', 'ctr-2', 'db-0', u2)).toBe(ip);
    // And back to n1 (n1 still has it parked for the ordinal).
    expect((await runPlugin(env('DEL', 'ctr-2', 'default', 'db-0', u2), conf('n2'))).exitCode).toBe(0);
    await core.deleteNamespacedPod({ namespace: 'default', name: 'db-0' });
    const u3 = await createPod('db-0', 'n1', 'db');
    expect(await add('n1', 'ctr-3', 'db-0', u3)).toBe(ip);

    // The StatefulSet is deleted with its pod: both nodes' GC unpin the address, the broker lease goes.
    await core.deleteNamespacedPod({ namespace: 'default', name: 'db-0' });
    await apps.deleteNamespacedStatefulSet({ namespace: 'default', name: 'db' });
    await waitFor('the StatefulSet address released everywhere', async () => {
      const held = [...(await agents.n1!.engine.allocations()), ...(await agents.n2!.engine.allocations())].some((r) => r.address === ip);
      const leased = (await broker.admin.listAddresses({ cluster: 'east' })).items.length > 0;
      return !held && !leased;
    });
  }, 60_000);
});
