import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createLogger } from '../../host/index.js';
import { accessReport, gatewayAgentAccess, KubeEgressClusterView, nodeSteerAccess } from '../../member-agent/index.js';
import { startTestKubeApiServer, waitFor, type TestKubeApiServer } from '../../testing/index.js';
import { RecordingGatewayEgress, RecordingNodeEgress } from '../egress/datapath-fake.js';
import type { GatewayEgressConfig, NodeEgressConfig } from '../egress/datapath.js';
import { gatewayEgressConfig, LiveGatewayEgress, LiveNodeEgress } from '../egress/egress-broker-datapath.js';
import { EgressFileSource } from '../egress/egress-file-source.js';

/**
 * The agents' egress pipeline against the (test) Kubernetes API server, as `strait gateway --kubeconfig` and
 * `strait node-steer --kubeconfig` wire it: the access-checked pod/namespace view, the file source re-resolving on
 * every change, the live datapath configs, over recording datapaths. A pod relabelled, deleted or created, or a
 * namespace relabelled, must reach the datapath within 1 s of the API write (measured from before the write to the
 * datapath call that carried it).
 */
const log = createLogger('egress-selectors-test', 'silent');
const dir = mkdtempSync(join(tmpdir(), 'strait-egress-sel-'));
const EIP = '172.30.0.101'; // shop/web's pool IP (policies take pool IPs in key order: prod has .100)
let api: TestKubeApiServer;
let core: k8s.CoreV1Api;
const stops: (() => Promise<void>)[] = [];
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

async function pod(namespace: string, name: string, o: { node: string; labels: Record<string, string>; ip?: string; hostNetwork?: boolean }): Promise<void> {
  await core.createNamespacedPod({
    namespace,
    body: { metadata: { name, labels: o.labels }, spec: { nodeName: o.node, ...(o.hostNetwork ? { hostNetwork: true } : {}), containers: [{ name: 'c', image: 'i' }] } },
  });
  if (o.ip) await core.patchNamespacedPodStatus({ namespace, name, body: { status: { phase: 'Running', podIP: o.ip, podIPs: [{ ip: o.ip }] } } }, merge);
}

const relabel = (namespace: string, name: string, labels: Record<string, string | null>): Promise<unknown> =>
  core.patchNamespacedPod({ namespace, name, body: { metadata: { labels } } }, merge);

/** The gateway's and the node's view of one policy's sources, after each datapath call, with its time. */
function gatewaySources(dp: RecordingGatewayEgress, policy: string): { at: number; sources: string[] }[] {
  return dp.calls.filter((c) => c.op === 'apply').map((c) => ({ at: c.at, sources: (c.args as GatewayEgressConfig).rules.filter((r) => r.policy === policy).flatMap((r) => r.sources) }));
}
function nodeSources(dp: RecordingNodeEgress, policy: string): { at: number; sources: string[] }[] {
  return dp.calls.filter((c) => c.op === 'apply').map((c) => ({ at: c.at, sources: (c.args as NodeEgressConfig).rules.filter((r) => r.policy === policy).flatMap((r) => r.sources) }));
}

/** Milliseconds from `t0` to the first datapath call after it whose sources are `want`. */
async function reached(what: string, calls: () => { at: number; sources: string[] }[], t0: number, want: string[]): Promise<number> {
  const hit = await waitFor(what, () => calls().find((c) => c.at >= t0 && JSON.stringify(c.sources) === JSON.stringify(want)), 10_000, 5);
  return Math.round(hit.at - t0);
}

describe('egress selectors follow the live pods (test API server, recording datapaths)', () => {
  const gw = new RecordingGatewayEgress();
  const node = new RecordingNodeEgress();
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    api = await startTestKubeApiServer();
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'shop', labels: { env: 'prod' } } } });
    await core.createNamespace({ body: { metadata: { name: 'lab', labels: { env: 'test' } } } });
    await pod('shop', 'web-1', { node: 'n1', labels: { app: 'web' }, ip: '10.1.0.5' });
    await pod('shop', 'web-2', { node: 'n2', labels: { app: 'web' }, ip: '10.1.0.6' });
    await pod('shop', 'host', { node: 'n1', labels: { app: 'web' }, ip: '192.168.0.1', hostNetwork: true }); // never selected
    await pod('shop', 'pending', { node: 'n1', labels: { app: 'web' } }); // no IP yet: nothing to steer
    await pod('lab', 'batch', { node: 'n1', labels: { app: 'batch' }, ip: '10.1.0.9' });
    const file = join(dir, 'egress.yaml');
    writeFileSync(file, [
      'kind: EgressGateway', 'metadata: {name: egw}', 'spec: {nodes: [gw1, gw2], clusterDefault: true, ippools: {ipv4: ["172.30.0.100-172.30.0.102"]}}', '---',
      'kind: EgressPolicy', 'metadata: {name: web, namespace: shop}', 'spec: {appliedTo: {podSelector: {matchLabels: {app: web}}}}', '---',
      'kind: EgressClusterPolicy', 'metadata: {name: prod}',
      'spec: {appliedTo: {namespaceSelector: {matchLabels: {env: prod}}, podSelector: {matchExpressions: [{key: app, operator: In, values: [batch]}]}}}', '',
    ].join('\n'));

    // The gateway: every pod of the cluster, under the gateway agent's declared access.
    const gwRef: { live?: LiveGatewayEgress } = {};
    const gwSource = new EgressFileSource({
      file, log, clusterCidrs: ['10.1.0.0/16'],
      view: new KubeEgressClusterView({ kubeConfig: api.kubeConfig(), access: gatewayAgentAccess(), log }),
      onChange: async (r) => gwRef.live?.update(gatewayEgressConfig(r, 'egw')),
    });
    const first = await gwSource.start();
    gwRef.live = new LiveGatewayEgress(gw, gatewayEgressConfig(gwSource.resolved ?? first, 'egw'));
    await gwRef.live.apply();
    await gwRef.live.serve(gwRef.live.config.egressIps, performance.now() + 600_000);
    stops.push(() => gwSource.stop());

    // The node n1: its own pods only, under the node agent's identity.
    const nodeRef: { live?: LiveNodeEgress } = {};
    const nodeSource = new EgressFileSource({
      file, log, clusterCidrs: ['10.1.0.0/16'],
      view: new KubeEgressClusterView({ kubeConfig: api.kubeConfig(), access: nodeSteerAccess(), nodeName: 'n1', log }),
      onChange: async (r) => nodeRef.live?.update(r.rules),
    });
    const nfirst = await nodeSource.start();
    nodeRef.live = new LiveNodeEgress(node, { rules: [...(nodeSource.resolved ?? nfirst).rules], candidates: [{ name: 'gw1', address: '10.50.0.11', priority: 100 }], clusterCidrs: [] });
    await nodeRef.live.apply();
    nodeRef.live.noteActive('gw1');
    stops.push(() => nodeSource.stop());
  });

  afterAll(async () => {
    for (const s of stops) await s();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (Object.keys(figures).length) process.stdout.write(`egress selector latency (API write → datapath call, ms): ${JSON.stringify(figures)}\n`);
  });

  it('starts with the matching pods that have an address and are not on the host network; the node only with its own', () => {
    expect(gw.calls.filter((c) => c.op === 'apply').at(-1)?.args).toEqual({
      rules: [expect.objectContaining({ policy: 'shop/web', sources: ['10.1.0.5/32', '10.1.0.6/32'], egressIp: EIP })],
      egressIps: ['172.30.0.100', EIP], // the cluster policy matches no pod yet and keeps its IP all the same
    });
    expect(nodeSources(node, 'shop/web').at(-1)?.sources).toEqual(['10.1.0.5/32']);
  });

  it('a relabel moves a pod out of and back into the set within 1 s, and the egress IP stays live throughout', async () => {
    let t0 = performance.now();
    await relabel('shop', 'web-1', { app: 'api' });
    figures.relabelOutGateway = await reached('gateway drops web-1', () => gatewaySources(gw, 'shop/web'), t0, ['10.1.0.6/32']);
    figures.relabelOutNode = await reached('node drops web-1', () => nodeSources(node, 'shop/web'), t0, []);
    expect(await gw.live()).toEqual(['172.30.0.100', EIP]);

    t0 = performance.now();
    await relabel('shop', 'web-1', { app: 'web' });
    figures.relabelInGateway = await reached('gateway takes web-1 back', () => gatewaySources(gw, 'shop/web'), t0, ['10.1.0.5/32', '10.1.0.6/32']);
    figures.relabelInNode = await reached('node takes web-1 back', () => nodeSources(node, 'shop/web'), t0, ['10.1.0.5/32']);
    expect(await gw.live()).toEqual(['172.30.0.100', EIP]);
    expect(gw.announced).toEqual(['172.30.0.100', EIP]); // served once at start, never re-announced
    for (const k of ['relabelOutGateway', 'relabelOutNode', 'relabelInGateway', 'relabelInNode']) expect([k, figures[k]! < 1000]).toEqual([k, true]);
  });

  it('a pod deleted, a pod created (once it has an address) and a namespace relabelled change the set within 1 s', async () => {
    let t0 = performance.now();
    await core.deleteNamespacedPod({ namespace: 'shop', name: 'web-2' });
    figures.deleted = await reached('gateway drops web-2', () => gatewaySources(gw, 'shop/web'), t0, ['10.1.0.5/32']);

    t0 = performance.now();
    await pod('shop', 'web-3', { node: 'n1', labels: { app: 'web' }, ip: '10.1.0.7' });
    figures.created = await reached('gateway takes web-3', () => gatewaySources(gw, 'shop/web'), t0, ['10.1.0.5/32', '10.1.0.7/32']);
    await reached('node takes web-3', () => nodeSources(node, 'shop/web'), t0, ['10.1.0.5/32', '10.1.0.7/32']);

    // The cluster policy selects namespaces by label: `lab` becomes prod, its batch pod joins.
    t0 = performance.now();
    await core.patchNamespace({ name: 'lab', body: { metadata: { labels: { env: 'prod' } } } }, merge);
    figures.namespaceIn = await reached('gateway takes lab/batch', () => gatewaySources(gw, 'prod'), t0, ['10.1.0.9/32']);
    await reached('node takes lab/batch', () => nodeSources(node, 'prod'), t0, ['10.1.0.9/32']);
    t0 = performance.now();
    await core.patchNamespace({ name: 'lab', body: { metadata: { labels: { env: 'test' } } } }, merge);
    figures.namespaceOut = await reached('gateway drops lab/batch', () => gatewaySources(gw, 'prod'), t0, []);
    for (const k of ['deleted', 'created', 'namespaceIn', 'namespaceOut']) expect([k, figures[k]! < 1000]).toEqual([k, true]);
  });

  it('a status update that changes neither labels nor addresses changes nothing in the datapath', async () => {
    const before = gw.calls.length;
    await core.patchNamespacedPodStatus({ namespace: 'shop', name: 'web-1', body: { status: { conditions: [{ type: 'Ready', status: 'True' }] } } }, merge);
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.calls.slice(before).filter((c) => c.op === 'apply')).toEqual([]);
  });

  it('the gateway agent and node-steer used exactly their declared access (pods and namespaces, list and watch), nothing refused', () => {
    expect(accessReport(gatewayAgentAccess())).toEqual({ unused: [], refused: [] });
    expect(accessReport(nodeSteerAccess())).toEqual({ unused: [], refused: [] });
  });
});
