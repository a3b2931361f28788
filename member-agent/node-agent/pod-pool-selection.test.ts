import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createLogger, waitFor } from '../../host/index.js';
import { startTestKubeApiServer, type TestKubeApiServer } from '../../testing/index.js';
import { runPlugin } from '../cni-plugin/plugin.js';
import { startStandaloneNodeAgent, type RunningNodeAgent } from './standalone-agent.js';
import { NodePodDirectory } from './pod-directory.js';
import { EngineIpamService } from './engine-ipam-service.js';
import { handleCniCall } from './cni-handler.js';
import type { PodIdentity } from './ipam-service.js';

// Pool selection as a cluster drives it: a standalone node agent with a kubeconfig of the (test) API server over
// real HTTP, pods, namespaces and the node created there, ADD run through the strait-ipam plugin with CNI_ARGS as
// containerd passes them (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID).
const dir = mkdtempSync(join(tmpdir(), 'strait-pod-pools-'));
const socketPath = join(dir, 'agent.sock');
const configFile = join(dir, 'pools.json');
const log = createLogger('pod-pools-test', 'silent');
let api: TestKubeApiServer;
let core: k8s.CoreV1Api;
let agent: RunningNodeAgent;

const POOLS = {
  pools: [
    { name: 'def', subnet: '10.80.0.0/24', ips: ['10.80.0.10-10.80.0.29'], default: true },
    { name: 'blue', subnet: '10.81.0.0/24' },
    { name: 'green', subnet: '10.82.0.0/24' },
    { name: 'web', subnet: '10.83.0.0/24', podAffinity: { matchLabels: { app: 'web' } } },
    { name: 'zone-b', subnet: '10.84.0.0/24', nodeAffinity: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] } },
    { name: 'frontend', subnet: '10.85.0.0/24', namespaceAffinity: { matchLabels: { team: 'frontend' } } },
    { name: 'off', subnet: '10.86.0.0/24', disable: true },
  ],
  // blue's first addresses are held by hardware outside Kubernetes.
  reserved: [{ name: 'routers', ips: ['10.81.0.1-10.81.0.5'] }],
};

const conf = (pools?: { ipv4: string[] }): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: socketPath, ...(pools ? { ippools: pools } : {}) } });

interface Pod {
  ns: string;
  name: string;
  uid: string;
}

let seq = 0;
async function createPod(ns: string, o: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Promise<Pod> {
  const name = `p${++seq}`;
  const p = await core.createNamespacedPod({
    namespace: ns,
    body: { metadata: { name, ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] } },
  });
  return { ns, name, uid: p.metadata!.uid! };
}

const cniEnv = (cmd: string, pod: Pod): NodeJS.ProcessEnv => ({
  CNI_COMMAND: cmd, CNI_CONTAINERID: `ctr-${pod.name}`, CNI_NETNS: '/var/run/netns/cni-1', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: `K8S_POD_INFRA_CONTAINER_ID=ctr-${pod.name};K8S_POD_UID=${pod.uid};IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.ns};K8S_POD_NAME=${pod.name}`,
});

interface Outcome {
  ok: boolean;
  ip?: string;
  code?: number;
  msg?: string;
  details?: string;
}

async function add(pod: Pod, pools?: { ipv4: string[] }): Promise<Outcome> {
  const r = await runPlugin(cniEnv('ADD', pod), conf(pools));
  const out = JSON.parse(r.stdout) as { ips?: { address: string }[]; code?: number; msg?: string; details?: string };
  if (r.exitCode === 0) return { ok: true, ip: out.ips![0]!.address.split('/')[0]! };
  return { ok: false, code: out.code!, msg: out.msg!, details: out.details ?? '' };
}

const heldBy = async (pod: Pod): Promise<string[]> => (await agent.engine.allocations()).filter((r) => r.owner?.podName === pod.name).map((r) => r.address);

async function cached(pod: Pod): Promise<void> {
  const end = Date.now() + 10_000;
  while (!agent.pods!.pods.informer.get(pod.name, pod.ns)) {
    if (Date.now() > end) throw new Error(`pod ${pod.ns}/${pod.name} never reached the cache`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  writeFileSync(configFile, JSON.stringify(POOLS));
  api = await startTestKubeApiServer({ bookmarkIntervalMs: 500 });
  core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNode({ body: { metadata: { name: 'n1', labels: { zone: 'a' } } } });
  await core.createNode({ body: { metadata: { name: 'n2', labels: { zone: 'b' } } } });
  await core.createNamespace({ body: { metadata: { name: 'team-a', annotations: { 'ipam.strait.io/default-ipv4-ippool': '["green"]' } } } });
  await core.createNamespace({ body: { metadata: { name: 'shop', labels: { team: 'frontend' } } } });
  await core.createNamespace({ body: { metadata: { name: 'broken', annotations: { 'ipam.strait.io/default-ipv4-ippool': 'green' } } } });
  agent = await startStandaloneNodeAgent({ configFile, socketPath, stateDir: join(dir, 'state'), nodeName: 'n1', log, kubeConfig: api.kubeConfig() });
});

afterAll(async () => {
  await agent?.stop();
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node agent: pools chosen from the pod, its namespace and the node (test API server, real plugin calls)', () => {
  it('a pod annotated with a pool gets an address from it, never a ReservedIP', async () => {
    const pod = await createPod('default', { annotations: { 'ipam.strait.io/ippool': '{"ipv4":["blue"]}' } });
    expect(await add(pod)).toEqual({ ok: true, ip: '10.81.0.6' });
    const plain = await createPod('default');
    expect((await add(plain)).ip).toMatch(/^10\.80\.0\./);
  });

  it('the per-interface annotation ippools outranks ippool for its interface', async () => {
    const pod = await createPod('default', { annotations: { 'ipam.strait.io/ippool': '{"ipv4":["blue"]}', 'ipam.strait.io/ippools': '[{"interface":"eth0","ipv4":["green"]}]' } });
    expect((await add(pod)).ip).toMatch(/^10\.82\.0\./);
  });

  it('precedence: pod annotation → namespace default annotation → netconf → cluster default', async () => {
    const nsDefault = await createPod('team-a');
    expect((await add(nsDefault, { ipv4: ['blue'] })).ip).toMatch(/^10\.82\.0\./);
    const annotated = await createPod('team-a', { annotations: { 'ipam.strait.io/ippool': '{"ipv4":["blue"]}' } });
    expect((await add(annotated, { ipv4: ['def'] })).ip).toMatch(/^10\.81\.0\./);
    const netconf = await createPod('default');
    expect((await add(netconf, { ipv4: ['blue'] })).ip).toMatch(/^10\.81\.0\./);
  });

  it('pod label affinity: a pool with podAffinity app=web takes app=web pods and refuses others, naming pool and reason', async () => {
    const ann = { 'ipam.strait.io/ippool': '{"ipv4":["web"]}' };
    const web = await createPod('default', { labels: { app: 'web' }, annotations: ann });
    expect((await add(web)).ip).toMatch(/^10\.83\.0\./);
    const db = await createPod('default', { labels: { app: 'db' }, annotations: ann });
    const r = await add(db);
    expect(r).toMatchObject({ ok: false, code: 101 });
    expect(r.msg).toContain('pool "web"');
    expect(r.msg).toContain('pod labels do not match app=web');
    expect(await heldBy(db)).toEqual([]);
  });

  it('a cluster default pool with podAffinity serves only matching pods', async () => {
    // The default pool "def" has no affinity; a netconf naming "web" shows the same rule on the netconf level.
    const web = await createPod('default', { labels: { app: 'web' } });
    expect((await add(web, { ipv4: ['web'] })).ip).toMatch(/^10\.83\.0\./);
    const other = await createPod('default');
    expect(await add(other, { ipv4: ['web'] })).toMatchObject({ ok: false, code: 101 });
  });

  it('namespace label affinity', async () => {
    const ann = { 'ipam.strait.io/ippool': '{"ipv4":["frontend"]}' };
    expect((await add(await createPod('shop', { annotations: ann }))).ip).toMatch(/^10\.85\.0\./);
    const r = await add(await createPod('default', { annotations: ann }));
    expect(r).toMatchObject({ ok: false, code: 101 });
    expect(r.msg).toContain('namespace default does not match team=frontend');
  });

  it('node label affinity follows the Node: refused on zone=a, served once the node is relabelled zone=b', async () => {
    const pod = await createPod('default', { annotations: { 'ipam.strait.io/ippool': '{"ipv4":["zone-b"]}' } });
    const r = await add(pod);
    expect(r).toMatchObject({ ok: false, code: 101 });
    expect(r.msg).toContain('node n1 does not match zone in (b)');
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { zone: 'b' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await waitFor('node relabelled in the cache', async () => (await add(pod)).ok);
    expect((await heldBy(pod))[0]).toMatch(/^10\.84\.0\./);
    await core.patchNode({ name: 'n1', body: { metadata: { labels: { zone: 'a' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  });

  it('a disabled pool refuses with its name', async () => {
    const r = await add(await createPod('default', { annotations: { 'ipam.strait.io/ippool': '{"ipv4":["off"]}' } }));
    expect(r).toMatchObject({ ok: false, code: 101 });
    expect(r.msg).toContain('pool "off" is disabled');
  });

  it('bad input: an unknown pool, a malformed pod or namespace annotation: a clear CNI error, nothing allocated', async () => {
    const unknown = await createPod('default', { annotations: { 'ipam.strait.io/ippool': '{"ipv4":["other-clusters-pool"]}' } });
    const r1 = await add(unknown);
    expect(r1).toMatchObject({ ok: false, code: 101 });
    expect(r1.msg).toContain('no pool named "other-clusters-pool"');
    expect(r1.details).toMatch(/^POOL_NOT_FOUND/);
    const malformed = await createPod('default', { annotations: { 'ipam.strait.io/ippool': '["blue"' } });
    const r2 = await add(malformed);
    expect(r2).toMatchObject({ ok: false, code: 7 });
    expect(r2.msg).toContain('annotation ipam.strait.io/ippool: not JSON');
    const wrongShape = await createPod('default', { annotations: { 'ipam.strait.io/ippool': '{"ipv4":"blue"}' } });
    expect(await add(wrongShape)).toMatchObject({ ok: false, code: 7 });
    const badNs = await createPod('broken');
    const r3 = await add(badNs);
    expect(r3).toMatchObject({ ok: false, code: 7 });
    expect(r3.msg).toContain('annotation ipam.strait.io/default-ipv4-ippool');
    for (const p of [unknown, malformed, wrongShape, badNs]) expect(await heldBy(p)).toEqual([]);
  });

  it('a pod the API server knows under another uid (deleted and re-created) is refused with code 3', async () => {
    const pod = await createPod('default');
    const r = await add({ ...pod, uid: 'an-old-uid' });
    expect(r).toMatchObject({ ok: false, code: 3 });
    expect(r.msg).toContain(`pod default/${pod.name} with uid an-old-uid no longer exists`);
  });

  it('a warm cache makes no API request per ADD', async () => {
    const pods = await Promise.all(Array.from({ length: 10 }, () => createPod('team-a', { labels: { app: 'web' } })));
    for (const p of pods) await cached(p);
    // The directory is the only part of an ADD that talks to the API server, and it counts every GET it makes.
    // (The server's request log cannot tell a GET from an informer's re-watch, so it is not used here.)
    const gets = { ...agent.pods!.stats };
    for (const p of pods) expect((await add(p)).ok).toBe(true);
    expect(agent.pods!.stats).toEqual(gets);
  });
});

describe('NodePodDirectory: a pod missing from the cache, an unreachable API server', () => {
  const id = (p: Pod): PodIdentity => ({ containerId: `ctr-${p.name}`, ifName: 'eth0', podNamespace: p.ns, podName: p.name, podUid: p.uid });

  it('reads a pod the informer has not delivered with one GET (then from memory), never a list', async () => {
    const pod = await createPod('team-a', { labels: { app: 'web' }, annotations: { a: 'b' } });
    // Not started: the caches are empty, as at a pod start that beats the watch.
    const d = new NodePodDirectory({ kubeConfig: api.kubeConfig(), nodeName: 'n1', log });
    const before = api.requests.length;
    const v = await d.view(id(pod));
    expect(v).toMatchObject({ pod: { name: pod.name, labels: { app: 'web' }, annotations: { a: 'b' } }, namespace: { annotations: { 'ipam.strait.io/default-ipv4-ippool': '["green"]' } }, node: { name: 'n1', labels: { zone: 'a' } } });
    await d.view(id(pod));
    expect(d.stats).toEqual({ podGets: 1, namespaceGets: 1, nodeGets: 1 });
    expect(api.requests.slice(before).sort()).toEqual(['GET namespaces', 'GET nodes', 'GET pods']);
    await expect(d.view({ ...id(pod), podName: 'nobody', podUid: undefined as unknown as string })).rejects.toMatchObject({ code: 'KUBE_OBJECT_NOT_FOUND' });
  });

  it('an unreachable API server fails the ADD with code 11 (try again later) and allocates nothing', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const d = new NodePodDirectory({ kubeConfig: kc, nodeName: 'n1', log, getTimeoutMs: 2_000 });
    const svc = new EngineIpamService(agent.engine, 'n1', (p) => d.view(p));
    const pod: Pod = { ns: 'default', name: 'unseen', uid: 'u-1' };
    const res = await handleCniCall({ env: cniEnv('ADD', pod), stdin: conf() }, svc);
    expect(res.ok).toBe(false);
    const err = JSON.parse(res.stdout) as { code: number; msg: string };
    expect(err.code).toBe(11);
    expect(err.msg).toContain('unreachable while trying to read Pod default/unseen');
    expect(await heldBy(pod)).toEqual([]);
  });
});

describe('pool config: a malformed selector', () => {
  it('is refused when the agent starts, naming the pool and the field', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ pools: [{ name: 'sel', subnet: '10.90.0.0/24', podAffinity: { matchExpressions: [{ key: 'app', operator: 'In' }] } }] }));
    await expect(startStandaloneNodeAgent({ configFile: bad, socketPath: join(dir, 'bad.sock'), stateDir: join(dir, 'bad-state'), nodeName: 'n1', log })).rejects.toMatchObject({
      code: 'INVALID_POOL',
      message: expect.stringContaining('podAffinity.matchExpressions[0]: operator In needs values'),
    });
  });
});
