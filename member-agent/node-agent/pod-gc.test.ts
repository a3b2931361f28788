import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createLogger, waitFor } from '../../host/index.js';
import { startTestKubeApiServer, startTestRedis, type TestKubeApiServer, startTestBroker } from '../../testing/index.js';
import { startBrokerNodeAgent } from './broker-node-agent.js';
import { runPlugin } from '../cni-plugin/plugin.js';
import { startStandaloneNodeAgent, type RunningNodeAgent } from './standalone-agent.js';
import { accessReport } from '../cluster/access-guard.js';
import { nodeAgentAccess } from '../cluster/component-access.js';

// Pod IP GC as a user runs it: a standalone node agent given a kubeconfig of the (test) API server, pods added
// through the agent's unix socket with the CNI plugin (CNI_ARGS as kubelet passes them), pods deleted in the API.
const dir = mkdtempSync(join(tmpdir(), 'strait-pod-gc-'));
const socketPath = join(dir, 'agent.sock');
const configFile = join(dir, 'pools.json');
const log = createLogger('pod-gc-test', 'silent');
let api: TestKubeApiServer;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let agent: RunningNodeAgent;

const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: socketPath } });
const cniEnv = (cmd: string, ctr: string, pod?: { name: string; uid?: string }): NodeJS.ProcessEnv => ({
  CNI_COMMAND: cmd, CNI_CONTAINERID: ctr, CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0',
  ...(pod ? { CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name}${pod.uid ? `;K8S_POD_UID=${pod.uid}` : ''}` } : {}),
});

async function add(ctr: string, pod?: { name: string; uid?: string }): Promise<string> {
  const r = await runPlugin(cniEnv('ADD', ctr, pod), conf);
  if (r.exitCode !== 0) throw new Error(`ADD ${ctr} failed: ${r.stdout}`);
  return (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!;
}

async function createPod(name: string, opts: { node?: string; sts?: string; phase?: string } = {}): Promise<string> {
  const p = await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name, ...(opts.sts ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: opts.sts, uid: 'x', controller: true }] } : {}) },
      spec: { nodeName: opts.node ?? 'n1', containers: [{ name: 'c', image: 'i' }] },
    },
  });
  return p.metadata!.uid!;
}

const held = async (): Promise<Map<string, { owner?: string; sticky?: string }>> =>
  new Map((await agent.engine.allocations()).map((r) => [r.address, { ...(r.owner ? { owner: `${r.owner.podName ?? ''}/${r.owner.containerId}` } : {}), ...(r.sticky ? { sticky: r.sticky } : {}) }]));

const start = (): Promise<RunningNodeAgent> =>
  startStandaloneNodeAgent({ configFile, socketPath, stateDir: join(dir, 'state'), nodeName: 'n1', log, podGc: { kubeConfig: api.kubeConfig(), graceMs: 300, intervalMs: 100 } });

beforeAll(async () => {
  // Four addresses only: a freed address is visibly handed out again.
  writeFileSync(configFile, JSON.stringify({ pools: [{ name: 'p1', subnet: '10.77.0.0/24', ips: ['10.77.0.10-10.77.0.13'], default: true }] }));
  api = await startTestKubeApiServer({ bookmarkIntervalMs: 500 });
  const kc = api.kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  for (const n of ['n1', 'n2']) await core.createNode({ body: { metadata: { name: n } } });
  agent = await start();
});

afterAll(async () => {
  await agent?.stop();
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node agent pod IP GC (test API server, CNI calls through the agent socket)', () => {
  it('frees the IP of a deleted pod whose DEL never came; the address is handed out again', async () => {
    const uids = await Promise.all(['a', 'b', 'c', 'd'].map((n) => createPod(n)));
    const ips = await Promise.all(['a', 'b', 'c', 'd'].map((n, i) => add(`ctr-${n}`, { name: n, uid: uids[i]! })));
    expect(new Set(ips).size).toBe(4);
    // The pool is full.
    const full = await runPlugin(cniEnv('ADD', 'ctr-e', { name: 'e' }), conf);
    expect(full.exitCode).not.toBe(0);
    await core.deleteNamespacedPod({ namespace: 'default', name: 'b' });
    await waitFor('b freed', async () => !(await held()).has(ips[1]!));
    // Only b's address went; the live pods keep theirs.
    expect([...(await held()).keys()].sort()).toEqual([ips[0], ips[2], ips[3]].sort());
    const eUid = await createPod('e');
    expect(await add('ctr-e', { name: 'e', uid: eUid })).toBe(ips[1]);
  });

  it('a StatefulSet pod deleted and recreated gets its IP back; the address is freed once the StatefulSet is gone', async () => {
    // Make room: a and c are deleted the ordinary way (kubelet's DEL, then the pod goes).
    for (const n of ['a', 'c']) {
      expect((await runPlugin(cniEnv('DEL', `ctr-${n}`, { name: n }), conf)).exitCode).toBe(0);
      await core.deleteNamespacedPod({ namespace: 'default', name: n });
    }
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { serviceName: 'web', selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
    const w1 = await createPod('web-0', { sts: 'web' });
    const ip = await add('ctr-web-1', { name: 'web-0', uid: w1 });
    expect((await held()).get(ip)?.sticky).toBe('default/web/0/eth0');
    // The pod goes without a DEL (node crash); GC parks its address for the ordinal instead of freeing it.
    await core.deleteNamespacedPod({ namespace: 'default', name: 'web-0' });
    await waitFor('web-0 parked', async () => (await held()).get(ip)?.owner === undefined);
    expect((await held()).get(ip)).toEqual({ sticky: 'default/web/0/eth0' });
    // A pod of another name cannot take it: with one free address left and the parked one kept, f gets the free one.
    const fUid = await createPod('f');
    const fIp = await add('ctr-f', { name: 'f', uid: fUid });
    expect(fIp).not.toBe(ip);
    const w2 = await createPod('web-0', { sts: 'web' });
    expect(await add('ctr-web-2', { name: 'web-0', uid: w2 })).toBe(ip);
    // Recreated before GC parked it (a fast reschedule) works too: the new pod takes it over from the old owner.
    await core.deleteNamespacedPod({ namespace: 'default', name: 'web-0' });
    const w3 = await createPod('web-0', { sts: 'web' });
    expect(await add('ctr-web-3', { name: 'web-0', uid: w3 })).toBe(ip);
    // StatefulSet deleted with its pod: parked, then freed for good.
    await core.deleteNamespacedPod({ namespace: 'default', name: 'web-0' });
    await apps.deleteNamespacedStatefulSet({ namespace: 'default', name: 'web' });
    await waitFor('web address freed', async () => !(await held()).has(ip));
  });

  it('never frees the address of a pod the API server still runs, even when the node cache lacks it', async () => {
    // Pod g is bound to n2 (so n1's watch never sees it), but its sandbox's ADD reached n1's agent.
    const gUid = await createPod('g', { node: 'n2' });
    const ip = await add('ctr-g', { name: 'g', uid: gUid });
    // Past both grace periods the cache says "gone"; the API server's answer keeps it.
    await waitFor('g checked and kept', async () => (await agent.podGc!.collectNow()).keptAfterCheck.includes('default/g'));
    expect((await held()).get(ip)?.owner).toBe('g/ctr-g');
    await core.deleteNamespacedPod({ namespace: 'default', name: 'g' });
    await waitFor('g freed', async () => !(await held()).has(ip));
  });

  it('after a crash (no DEL, pods deleted while the agent was down) the restarted agent frees them; terminated pods too', async () => {
    for (const [ctr, name] of [['ctr-d', 'd'], ['ctr-e', 'e'], ['ctr-f', 'f']] as const) {
      expect((await runPlugin(cniEnv('DEL', ctr, { name }), conf)).exitCode).toBe(0);
      await core.deleteNamespacedPod({ namespace: 'default', name });
    }
    const hUid = await createPod('h');
    const iUid = await createPod('i');
    const hIp = await add('ctr-h', { name: 'h', uid: hUid });
    const iIp = await add('ctr-i', { name: 'i', uid: iUid });
    // A runtime that passes no pod uid: the pod is known by namespace/name.
    await createPod('j');
    const jIp = await add('ctr-j', { name: 'j' });
    await agent.stop();
    await core.deleteNamespacedPod({ namespace: 'default', name: 'h' });
    await core.deleteNamespacedPod({ namespace: 'default', name: 'j' });
    // i completed (a Job pod): it stays in the API but never runs again.
    await core.patchNamespacedPodStatus({ namespace: 'default', name: 'i', body: { status: { phase: 'Succeeded' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    agent = await start();
    expect((await held()).has(hIp)).toBe(true); // the durable store still had it
    await waitFor('h, i and j freed', async () => {
      const h = await held();
      return !h.has(hIp) && !h.has(iIp) && !h.has(jIp);
    });
  });
});

describe('pod IP GC without an API server', () => {
  it('the agent answers CNI calls (a pod it cannot read: try again later); GC waits for the first Pod list and frees nothing meanwhile', async () => {
    const dead = new k8s.KubeConfig();
    dead.loadFromString(api.kubeconfigYaml().replace(api.url, 'http://127.0.0.1:1'));
    const sock = join(dir, 'offline.sock');
    const a = await startStandaloneNodeAgent({ configFile, socketPath: sock, stateDir: join(dir, 'offline-state'), nodeName: 'n1', log, podGc: { kubeConfig: dead, graceMs: 0, intervalMs: 50 } });
    try {
      const offConf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: sock } });
      // The pool may depend on the pod's annotations and labels: a pod that cannot be read is refused, retryably.
      const r = await runPlugin(cniEnv('ADD', 'ctr-x', { name: 'x', uid: 'uid-x' }), offConf);
      expect(r.exitCode).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ code: 11 });
      // A call that names no Kubernetes pod needs nothing from the API server.
      expect((await runPlugin(cniEnv('ADD', 'ctr-y'), offConf)).exitCode).toBe(0);
      const round = await a.podGc!.collectNow();
      expect(round).toMatchObject({ ran: false, plan: { orphans: [], unpin: [] } });
      expect(await a.engine.allocations()).toHaveLength(1);
    } finally {
      await a.stop();
    }
  });
});

describe('pod IP GC of a broker-backed node agent (real broker on real Redis)', () => {
  it('frees the address of a deleted pod in the node\'s broker-leased block', async () => {
    const redis = await startTestRedis();
    const broker = await startTestBroker(redis.socket);
    const sock = join(dir, 'broker-agent.sock');
    const bconf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: sock } });
    let bagent: Awaited<ReturnType<typeof startBrokerNodeAgent>> | undefined;
    try {
      await broker.admin.createPool({ name: 'pods', cidr: '10.91.0.0/24', blockSize: 28, purpose: 'pods', default: true });
      const jt = await broker.admin.createToken({ uses: 1 });
      const token = (await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, jt.token)).credentials.token;
      bagent = await startBrokerNodeAgent({
        brokerUrl: broker.handle.url, token, cluster: 'east', nodeName: 'n1', socketPath: sock, stateDir: join(dir, 'broker-state'), log,
        housekeepingIntervalMs: 3_600_000, podGc: { kubeConfig: api.kubeConfig(), graceMs: 300, intervalMs: 100 },
      });
      const uid = await createPod('bp');
      const r = await runPlugin({ ...cniEnv('ADD', 'ctr-bp', { name: 'bp', uid }), CNI_COMMAND: 'ADD' }, bconf);
      expect(r.exitCode).toBe(0);
      const ip = (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!;
      expect((await broker.admin.listBlocks({ cluster: 'east' })).items).toHaveLength(1);
      await core.deleteNamespacedPod({ namespace: 'default', name: 'bp' });
      const engine = bagent.engine;
      await waitFor('bp freed', async () => !(await engine.allocations()).some((a) => a.address === ip));
      expect(bagent.podGc?.stats.freed).toBeGreaterThanOrEqual(1);
    } finally {
      await bagent?.stop();
      await broker.stop();
      await redis.stop();
    }
  });
});

// Least privilege, proven: the agents above ran pod GC and StatefulSet stickiness through the node agent's
// access-checked client; each declared grant (= its RBAC in deploy/) was needed, and nothing was refused.
describe('node agent Kubernetes access', () => {
  it('the node agents used exactly their declared access: every grant, nothing refused', () => {
    const { unused, refused } = accessReport(nodeAgentAccess());
    expect({ unused, refused }).toEqual({ unused: [], refused: [] });
  });
});
