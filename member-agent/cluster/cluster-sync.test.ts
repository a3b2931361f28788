import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { isStraitError, type BrokerClient } from '../../api/index.js';
import { collectOwnerless } from '../../broker/index.js';
import { Redis } from 'ioredis';
import { IpamEngine, MemoryAllocationStore } from '../../ipam/index.js';
import { eventually, startTestKubeApiServer, startTestRedis, type TestKubeApiServer, type TestRedis, startTestBroker, type TestBroker } from '../../testing/index.js';
import { createLogger, run } from '../../host/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { joinCluster, leaveCluster, readCredentials, writeSecret } from './join.js';
import { KubeClient } from './kube-client.js';
import { rotateCredential } from './rotate-credential.js';
import { MemberAgent } from './member-agent.js';
import { accessReport } from './access-guard.js';
import { memberAgentAccess } from './component-access.js';

// End to end on the cluster side: real broker on real Redis, two (three) test API servers, client-node.
const log = createLogger('member-agent-test', 'silent');
const G = { group: 'ipam.strait.io', version: 'v1alpha1' };
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
type Obj = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string }; spec: Record<string, unknown>; status?: { conditions?: { type: string; status: string; reason: string }[] } };

interface Member {
  id: string;
  api: TestKubeApiServer;
  kc: k8s.KubeConfig;
  custom: k8s.CustomObjectsApi;
  agent?: MemberAgent;
}

describe('strait join + member agent against a real broker', () => {
  let redis: TestRedis;
  let broker: TestBroker;
  let brokerPort: number;
  let admin: BrokerClient;
  const members: Member[] = [];
  const startAgent = async (m: Member, extra: Partial<ConstructorParameters<typeof MemberAgent>[0]> = {}): Promise<MemberAgent> => {
    m.agent = new MemberAgent({ kubeConfig: m.kc, leaseDurationMs: 2_000, resyncMs: 1_000, heartbeatMs: 2_000, brokerRetryMs: 100, log, ...extra });
    await m.agent.start();
    return m.agent;
  };
  const get = async (m: Member, plural: string, name: string): Promise<Obj | undefined> =>
    (await m.custom.getClusterCustomObject({ ...G, plural, name }).catch(() => undefined)) as Obj | undefined;
  const token = async (): Promise<string> => (await admin.createToken({ uses: 1 })).token;

  beforeAll(async () => {
    redis = await startTestRedis({ appendonly: true });
    broker = await startTestBroker(redis.socket, { bookmarkMs: 500 });
    brokerPort = broker.handle.port;
    admin = broker.admin;
    for (const id of ['east', 'west', 'north']) {
      const api = await startTestKubeApiServer({ bookmarkIntervalMs: 500 });
      const kc = api.kubeConfig();
      members.push({ id, api, kc, custom: kc.makeApiClient(k8s.CustomObjectsApi) });
    }
    // east's Nodes carry podCIDRs (kubeadm style); west passes --pod-cidr.
    const core = members[0]!.kc.makeApiClient(k8s.CoreV1Api);
    for (const [i, n] of ['n1', 'n2'].entries()) {
      await core.createNode({ body: { metadata: { name: n, labels: i === 0 ? { 'strait.io/gateway': 'true' } : {} }, spec: { podCIDRs: [`10.244.${i}.0/24`] }, status: { addresses: [{ type: 'InternalIP', address: `192.168.1.${10 + i}` }] } } });
    }
  });

  afterAll(async () => {
    for (const m of members) await m.agent?.stop();
    for (const m of members) await m.api.stop();
    await broker?.stop();
    await redis?.stop();
  });

  it('joins two clusters; a re-run changes nothing; the overlapping third is refused naming the other', async () => {
    const [east, west, north] = members as [Member, Member, Member];
    const lines: string[] = [];
    const r1 = await joinCluster({ kubeConfig: east.kc, brokerUrl: broker.handle.url, token: await token(), clusterId: 'east', serviceCidrs: ['10.96.0.0/16'], say: (l) => lines.push(l) });
    expect(r1).toMatchObject({ registered: true, podCidrs: ['10.244.0.0/23'] });
    expect(lines.join('\n')).toMatch(/discovered from 2 Nodes/);
    await joinCluster({ kubeConfig: west.kc, brokerUrl: broker.handle.url, token: await token(), clusterId: 'west', podCidrs: ['10.245.0.0/16'], serviceCidrs: ['10.97.0.0/16'] });
    // Re-run with an already used token: the stored credentials are reused, nothing registers twice.
    const again = await joinCluster({ kubeConfig: east.kc, brokerUrl: broker.handle.url, token: 'deadbeef.00000000000000000000000000000000', clusterId: 'east', serviceCidrs: ['10.96.0.0/16'] });
    expect(again.registered).toBe(false);
    expect((await admin.listClusters()).items.map((c) => c.id).sort()).toEqual(['east', 'west']);

    const before = north.api.store.rv;
    const err = await joinCluster({ kubeConfig: north.kc, brokerUrl: broker.handle.url, token: await token(), clusterId: 'north', podCidrs: ['10.244.1.0/24'] }).catch((e: unknown) => e);
    expect(isStraitError(err, 'CIDR_OVERLAP')).toBe(true);
    expect((err as Error).message).toMatch(/east/);
    expect(north.api.store.rv).toBe(before); // nothing written in the cluster
    const bad = await joinCluster({ kubeConfig: north.kc, brokerUrl: broker.handle.url, token: 'deadbeef.00000000000000000000000000000000', clusterId: 'north', podCidrs: ['10.50.0.0/16'] }).catch((e: unknown) => e);
    expect(isStraitError(bad, 'JOIN_TOKEN_INVALID')).toBe(true);
    const gone = await joinCluster({ kubeConfig: north.kc, brokerUrl: 'http://127.0.0.1:1', token: await token(), clusterId: 'north', podCidrs: ['10.50.0.0/16'] }).catch((e: unknown) => e);
    expect(isStraitError(gone, 'UNAVAILABLE')).toBe(true);
    const deadKc = new k8s.KubeConfig();
    deadKc.loadFromString(north.api.kubeconfigYaml().replace(north.api.url, 'http://127.0.0.1:1'));
    const noCluster = await joinCluster({ kubeConfig: deadKc, brokerUrl: broker.handle.url, token: await token(), clusterId: 'north', podCidrs: ['10.50.0.0/16'] }).catch((e: unknown) => e);
    expect(isStraitError(noCluster, 'KUBE_UNREACHABLE')).toBe(true);
    expect(north.api.store.rv).toBe(before);
    expect((await admin.listClusters()).items.map((c) => c.id).sort()).toEqual(['east', 'west']);
  });

  it('mirrors broker Subnets into both clusters and pushes a pool from one cluster to the other', async () => {
    const [east, west] = members as [Member, Member];
    await startAgent(east);
    await startAgent(west);
    await admin.createSubnet({ name: 'global', cidr: '10.128.0.0/14', description: 'pods everywhere' });
    const rules = { ips: ['10.128.4.10-10.128.4.50'], namespaceAffinity: { matchLabels: { 'kubernetes.io/metadata.name': 'frontend' } }, default: true };
    for (const m of [east, west]) {
      await eventually(`Subnet in ${m.id}`, async () => {
        const s = await get(m, 'subnets', 'global');
        return s?.spec.cidr === '10.128.0.0/14' && s.status?.conditions?.some((c) => c.type === 'Synced' && c.status === 'True');
      });
    }
    await east.custom.createClusterCustomObject({ ...G, plural: 'ippools', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: 'east-pods' }, spec: { cidr: '10.128.4.0/24', subnet: 'global', description: 'from east', ...rules } } });
    await eventually('pool at the broker', async () => (await admin.getPool('east-pods').catch(() => undefined))?.cidr === '10.128.4.0/24');
    // The allocation rules travel with the pool: to the broker and into the other cluster's mirror.
    expect(await admin.getPool('east-pods')).toMatchObject(rules);
    const mirrored = await eventually('pool in west', async () => get(west, 'ippools', 'east-pods'));
    expect(mirrored.spec).toMatchObject({ cidr: '10.128.4.0/24', subnet: 'global', description: 'from east', ...rules, disable: false });
    expect(mirrored.metadata.labels?.['strait.io/origin']).toBe('broker');
    expect(mirrored.metadata.annotations?.['strait.io/pool-owner']).toBe('east');
    // Pushed with east's own credential (no admin token in the cluster): the broker records east as the owner.
    expect((await admin.getPool('east-pods')).cluster).toBe('east');
    await eventually('east pool Synced', async () => (await get(east, 'ippools', 'east-pods'))?.status?.conditions?.some((c) => c.type === 'Synced' && c.status === 'True'));
    // The gateway candidate Node of east is published and mirrored into west.
    await eventually('east gateway in west', async () => (await get(west, 'gateways', 'east.n1').catch(() => undefined)) ?? (await west.custom.getClusterCustomObject({ group: 'multicluster.strait.io', version: 'v1alpha1', plural: 'gateways', name: 'east.n1' }).catch(() => undefined)));
    // ClusterSet status lists both members.
    await eventually('ClusterSet members', async () => {
      const cs = (await west.custom.getClusterCustomObject({ group: 'multicluster.strait.io', version: 'v1alpha1', plural: 'clustersets', name: 'strait' })) as { status?: { members?: { clusterID: string }[]; phase?: string } };
      return cs.status?.phase === 'Joined' && cs.status.members?.map((x) => x.clusterID).join() === 'east,west';
    });
  });

  it('a Node that loses the gateway label, or is deleted, is no longer a gateway at the broker (nor mirrored elsewhere)', async () => {
    const [east, west] = members as [Member, Member];
    const core = east.kc.makeApiClient(k8s.CoreV1Api);
    const mc = { group: 'multicluster.strait.io', version: 'v1alpha1', plural: 'gateways' };
    const westMirror = (name: string): Promise<unknown> => west.custom.getClusterCustomObject({ ...mc, name }).catch(() => undefined);
    await core.createNode({ body: { metadata: { name: 'n3', labels: { 'strait.io/gateway': 'true' } }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.13' }] } } });
    await eventually('n3 published and mirrored', async () => (await admin.getGateway('east', 'n3').catch(() => undefined)) && westMirror('east.n3'));
    await core.patchNode({ name: 'n3', body: { metadata: { labels: { 'strait.io/gateway': null } } } }, merge);
    await eventually('unlabelled n3 gone at the broker and in west', async () => !(await admin.getGateway('east', 'n3').catch(() => undefined)) && !(await westMirror('east.n3')));
    await core.patchNode({ name: 'n3', body: { metadata: { labels: { 'strait.io/gateway': 'true' } } } }, merge);
    await eventually('n3 labelled again', async () => admin.getGateway('east', 'n3').catch(() => undefined));
    await core.deleteNode({ name: 'n3' });
    await eventually('deleted n3 gone at the broker', async () => !(await admin.getGateway('east', 'n3').catch(() => undefined)));
    // n1 stays.
    expect((await admin.getGateway('east', 'n1')).endpoints).toEqual(['192.168.1.10']);
    // A changed address of n1 reaches the broker and west's mirror (patched in place).
    await core.patchNodeStatus({ name: 'n1', body: { status: { addresses: [{ type: 'InternalIP', address: '192.168.1.20' }] } } }, merge);
    await eventually('n1 endpoint updated in west', async () =>
      ((await westMirror('east.n1')) as { spec?: { endpoints?: string[] } } | undefined)?.spec?.endpoints?.join() === '192.168.1.20');
    await core.patchNodeStatus({ name: 'n1', body: { status: { addresses: [{ type: 'InternalIP', address: '192.168.1.10' }] } } }, merge);
    await eventually('n1 endpoint back in west', async () =>
      ((await westMirror('east.n1')) as { spec?: { endpoints?: string[] } } | undefined)?.spec?.endpoints?.join() === '192.168.1.10');
  });

  it('a Subnet edited at the broker is patched into both clusters\' mirrors', async () => {
    await admin.putSubnet('global', { description: 'pods everywhere, edited' });
    for (const m of members.slice(0, 2)) {
      await eventually(`edited Subnet in ${m.id}`, async () => (await get(m, 'subnets', 'global'))?.spec.description === 'pods everywhere, edited');
    }
  });

  it('edits of the owner and the broker converge; edits of a pool owned elsewhere and immutable edits are reverted with a Conflict condition', async () => {
    const [east, west] = members as [Member, Member];
    await east.custom.patchClusterCustomObject({ ...G, plural: 'ippools', name: 'east-pods', body: { spec: { description: 'edited in east' } } }, merge);
    await eventually('east edit everywhere', async () => (await admin.getPool('east-pods')).description === 'edited in east' && (await get(west, 'ippools', 'east-pods'))?.spec.description === 'edited in east');
    // West does not own east-pods: its mirror is read-only, the edit is reverted and never reaches the broker.
    await west.custom.patchClusterCustomObject({ ...G, plural: 'ippools', name: 'east-pods', body: { spec: { description: 'edited in west' } } }, merge);
    const westReverted = await eventually('west edit reverted', async () => {
      const p = await get(west, 'ippools', 'east-pods');
      return p?.spec.description === 'edited in east' && p.status?.conditions?.some((c) => c.type === 'Conflict' && c.status === 'True' && c.reason === 'OwnedElsewhere') ? p : undefined;
    });
    expect((westReverted.status?.conditions?.find((c) => c.type === 'Conflict') as { message?: string } | undefined)?.message).toContain('cluster east');
    expect((await admin.getPool('east-pods')).description).toBe('edited in east');
    const b = await admin.getPool('east-pods');
    // The next writes of both agents to IPPools are refused with 409 (stale), and their informers' history expires.
    east.api.injectFault({ method: 'PATCH', path: '/ippools/', status: 409, count: 2 });
    west.api.injectFault({ method: 'PATCH', path: '/ippools/', status: 409, count: 2 });
    east.api.compact();
    east.api.closeWatches();
    await admin.putPool('east-pods', { description: 'edited at the broker', resourceVersion: b.resourceVersion });
    for (const m of [east, west]) await eventually(`broker edit in ${m.id}`, async () => (await get(m, 'ippools', 'east-pods'))?.spec.description === 'edited at the broker');
    await east.custom.patchClusterCustomObject({ ...G, plural: 'ippools', name: 'east-pods', body: { spec: { cidr: '10.128.5.0/24' } } }, merge);
    const reverted = await eventually('cidr edit reverted', async () => {
      const p = await get(east, 'ippools', 'east-pods');
      return p?.spec.cidr === '10.128.4.0/24' && p.status?.conditions?.some((c) => c.type === 'Conflict' && c.status === 'True') ? p : undefined;
    });
    expect(reverted.status?.conditions?.find((c) => c.type === 'Conflict')?.reason).toBe('ImmutableField');
  });

  it('pushes the cluster\'s own EgressGateways and egress policies to the broker: create, update, delete, Synced; converges across a broker restart', async () => {
    const [east] = members as [Member];
    const E = { group: 'egress.strait.io', version: 'v1alpha1' };
    const synced = async (plural: string, name: string, namespace?: string): Promise<boolean> => {
      const o = (await (namespace ? east.custom.getNamespacedCustomObject({ ...E, plural, namespace, name }) : east.custom.getClusterCustomObject({ ...E, plural, name })).catch(() => undefined)) as Obj | undefined;
      return !!o?.status?.conditions?.some((c) => c.type === 'Synced' && c.status === 'True');
    };
    await east.custom.createClusterCustomObject({ ...E, plural: 'egressgateways', body: { apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressGateway', metadata: { name: 'egw', labels: { team: 'net' } }, spec: { nodes: ['n1'], ippools: { ipv4: ['10.151.0.1-10.151.0.5'] } } } });
    await east.custom.createNamespacedCustomObject({ ...E, plural: 'egresspolicies', namespace: 'default', body: { apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressPolicy', metadata: { name: 'p1' }, spec: { egressGatewayName: 'egw', appliedTo: { podSelector: { matchLabels: { app: 'a' } } } } } });
    await east.custom.createClusterCustomObject({ ...E, plural: 'egressclusterpolicies', body: { apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressClusterPolicy', metadata: { name: 'cp1' }, spec: { egressGatewayName: 'egw', appliedTo: { podSubnet: ['10.244.0.0/24'] } } } });
    await eventually('egress objects at the broker', async () => {
      const [g, p, c] = await Promise.all([admin.listEgressGateways({ cluster: 'east' }), admin.listEgressPolicies({ cluster: 'east' }), admin.listEgressClusterPolicies({ cluster: 'east' })]);
      return g.items.length === 1 && p.items.length === 1 && c.items.length === 1;
    });
    const g = await admin.getEgressGateway('east', 'egw');
    expect(g.spec).toMatchObject({ nodes: ['n1'], ippools: { ipv4: ['10.151.0.1-10.151.0.5'] }, clusterDefault: false });
    expect(g.labels).toEqual({ team: 'net' });
    expect((await admin.getEgressPolicy('east', 'default', 'p1')).spec.appliedTo).toEqual({ podSelector: { matchLabels: { app: 'a' } } });
    await eventually('Synced on all three', async () => (await synced('egressgateways', 'egw')) && (await synced('egresspolicies', 'p1', 'default')) && (await synced('egressclusterpolicies', 'cp1')));
    // West has none of its own: nothing of east's is pushed as west's.
    expect((await admin.listEgressGateways({ cluster: 'west' })).items).toEqual([]);

    // Update in the cluster; an edit at the broker (the admin) is overwritten by the cluster's version; a stray
    // object of east at the broker with no CRD is deleted.
    await east.custom.patchNamespacedCustomObject({ ...E, plural: 'egresspolicies', namespace: 'default', name: 'p1', body: { spec: { priority: 300 } } }, merge);
    await eventually('update pushed', async () => (await admin.getEgressPolicy('east', 'default', 'p1')).spec.priority === 300);
    await admin.putEgressGateway('east', 'egw', { spec: { ...g.spec, clusterDefault: true }, labels: {} });
    await admin.putEgressClusterPolicy('east', 'stray', { spec: { appliedTo: { podSubnet: ['10.244.1.0/24'] } } });
    await eventually('broker edit reverted, stray deleted', async () => {
      const cur = await admin.getEgressGateway('east', 'egw');
      const names = (await admin.listEgressClusterPolicies({ cluster: 'east' })).items.map((x) => x.name);
      return cur.spec.clusterDefault === false && cur.labels.team === 'net' && names.join() === 'cp1';
    });

    // Broker down: cp1 deleted and p2 created in the cluster meanwhile; after the restart the broker matches.
    await broker.stop();
    await east.custom.deleteClusterCustomObject({ ...E, plural: 'egressclusterpolicies', name: 'cp1' });
    await east.custom.createNamespacedCustomObject({ ...E, plural: 'egresspolicies', namespace: 'default', body: { apiVersion: 'egress.strait.io/v1alpha1', kind: 'EgressPolicy', metadata: { name: 'p2' }, spec: { appliedTo: { podSubnet: ['10.244.0.0/25'] } } } });
    await new Promise((r) => setTimeout(r, 300));
    broker = await startTestBroker(redis.socket, { listen: `127.0.0.1:${brokerPort}`, bookmarkMs: 500 });
    admin = broker.admin;
    await eventually('converged after the broker restart', async () => {
      const p = (await admin.listEgressPolicies({ cluster: 'east' })).items.map((x) => `${x.namespace}/${x.name}`).sort();
      const c = (await admin.listEgressClusterPolicies({ cluster: 'east' })).items;
      return p.join() === 'default/p1,default/p2' && c.length === 0;
    });
    await eventually('p2 Synced', async () => synced('egresspolicies', 'p2', 'default'));

    // A push based on a stale broker version (the agent's copy set back, as after a missed event) is refused with
    // 409; the agent re-reads the object and the next round's push goes through.
    const mirror = (east.agent as unknown as { mirror: { egressPolicies: Map<string, { resourceVersion: string }> } }).mirror;
    const copy = mirror.egressPolicies.get('default/p1')!;
    mirror.egressPolicies.set('default/p1', { ...copy, resourceVersion: '1' });
    const errorsBefore = east.agent!.stats.errors;
    await east.custom.patchNamespacedCustomObject({ ...E, plural: 'egresspolicies', namespace: 'default', name: 'p1', body: { spec: { priority: 400 } } }, merge);
    await eventually('pushed after the 409', async () => (await admin.getEgressPolicy('east', 'default', 'p1')).spec.priority === 400);
    expect(east.agent!.stats.errors).toBeGreaterThan(errorsBefore);
    await eventually('p1 Synced again', async () => synced('egresspolicies', 'p1', 'default'));
  });

  it('ReservedIPs: a cluster\'s own are pushed (owned by it) and mirrored into the others; one outside every pool says so and is not pushed', async () => {
    const [east, west] = members as [Member, Member];
    type Rsv = Obj & { status?: { pools?: string[]; owner?: string; conditions?: { type: string; status: string; reason: string; message?: string }[] } };
    const rsv = async (m: Member, name: string): Promise<Rsv | undefined> => (await get(m, 'reservedips', name)) as Rsv | undefined;
    const cond = (o: Rsv | undefined, type: string): { status: string; reason: string; message?: string } | undefined => o?.status?.conditions?.find((c) => c.type === type);
    await admin.createPool({ name: 'rsv', cidr: '10.140.0.0/24', purpose: 'pods' });
    await eventually('rsv pool mirrored into east', async () => get(east, 'ippools', 'rsv'));
    await east.custom.createClusterCustomObject({ ...G, plural: 'reservedips', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'ReservedIP', metadata: { name: 'routers' }, spec: { ips: ['10.140.0.1-10.140.0.5'], reason: 'top-of-rack' } } });
    const atBroker = await eventually('routers at the broker', async () => admin.getReservedIP('routers').catch(() => undefined));
    expect(atBroker).toMatchObject({ ips: ['10.140.0.1-10.140.0.5'], reason: 'top-of-rack', cluster: 'east', pools: ['rsv'] });
    const mine = await eventually('routers in force in east', async () => {
      const o = await rsv(east, 'routers');
      return cond(o, 'Ready')?.status === 'True' && cond(o, 'Synced')?.status === 'True' && o;
    });
    expect(mine.status).toMatchObject({ pools: ['rsv'], owner: 'east' });
    expect(cond(mine, 'Ready')).toMatchObject({ reason: 'InForce', message: expect.stringContaining('pool rsv') });
    const mirrored = await eventually('routers mirrored into west', async () => {
      const o = await rsv(west, 'routers');
      return cond(o, 'Ready')?.status === 'True' && o;
    });
    expect(mirrored.spec).toEqual({ ips: ['10.140.0.1-10.140.0.5'], reason: 'top-of-rack' });
    expect(mirrored.metadata.labels?.['strait.io/origin']).toBe('broker');
    expect(mirrored.status).toMatchObject({ pools: ['rsv'], owner: 'east' });

    // Outside every pool: refused here with the entry named, and never sent to the broker.
    await east.custom.createClusterCustomObject({ ...G, plural: 'reservedips', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'ReservedIP', metadata: { name: 'typo' }, spec: { ips: ['10.140.0.9', '10.99.0.1'] } } });
    const refused = await eventually('typo refused', async () => {
      const o = await rsv(east, 'typo');
      return cond(o, 'Ready')?.status === 'False' && o;
    });
    expect(cond(refused, 'Ready')).toMatchObject({ reason: 'OutsideEveryPool', message: expect.stringContaining('ips[1] 10.99.0.1 is outside every pool') });
    expect(cond(refused, 'Synced')).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(await admin.getReservedIP('typo').catch((e: unknown) => (e as { code?: string }).code)).toBe('NOT_FOUND');

    // An edit of the mirror in west is reverted (owned by east); east's edit goes to the broker and on to west.
    await west.custom.patchClusterCustomObject({ ...G, plural: 'reservedips', name: 'routers', body: { spec: { ips: ['10.140.0.1'] } } }, merge);
    await eventually('west edit reverted with a Conflict', async () => {
      const o = await rsv(west, 'routers');
      return JSON.stringify(o?.spec.ips) === '["10.140.0.1-10.140.0.5"]' && cond(o, 'Conflict')?.reason === 'OwnedElsewhere';
    });
    await east.custom.patchClusterCustomObject({ ...G, plural: 'reservedips', name: 'routers', body: { spec: { reason: 'ToR and VRRP' } } }, merge);
    await eventually('east edit at the broker and in west', async () => (await admin.getReservedIP('routers')).reason === 'ToR and VRRP' && (await rsv(west, 'routers'))?.spec.reason === 'ToR and VRRP');

    // The admin's own: mirrored into both, owner admin. Deleting east's CR deletes it at the broker and in west.
    await admin.putReservedIP('vips', { ips: ['10.140.0.200-10.140.0.210'], reason: 'load balancer VIPs' });
    for (const m of [east, west]) await eventually(`vips in ${m.id}`, async () => (await rsv(m, 'vips'))?.status?.owner === 'admin');
    await east.custom.deleteClusterCustomObject({ ...G, plural: 'reservedips', name: 'routers' });
    await eventually('routers gone at the broker and from west', async () =>
      (await admin.getReservedIP('routers').catch(() => undefined)) === undefined && (await rsv(west, 'routers')) === undefined);
    await east.custom.deleteClusterCustomObject({ ...G, plural: 'reservedips', name: 'typo' });
  });

  it('heartbeats carry the complete live Node names and egress lease owners; the broker returns what they no longer hold', async () => {
    const [east] = members as [Member];
    const store = broker.handle.store;
    const r = new Redis({ path: redis.socket });
    try {
      const members = async (k: string): Promise<string[]> => (await r.smembers(store.key(k))).sort();
      await eventually('live sets reported', async () =>
        (await members('live:node:east')).join() === 'n1,n2' && (await members('live:owner:east')).join() === 'egress:east:default/p1,egress:east:default/p2');
      expect(east.agent!.heartbeatSets()).toEqual({ nodes: ['n1', 'n2'], addressOwners: ['egress:east:default/p1', 'egress:east:default/p2'] });
      await admin.createPool({ name: 'hb-pods', cidr: '10.150.0.0/24', blockSize: 28, purpose: 'pods' });
      await admin.createPool({ name: 'hb-egress', cidr: '10.151.0.0/28', purpose: 'egress' });
      const live = await admin.leaseBlock('hb-pods', { cluster: 'east', node: 'n1' });
      await admin.leaseBlock('hb-pods', { cluster: 'east', node: 'ghost' });
      const held = await admin.leaseAddress('hb-egress', { owner: 'egress:east:default/p1', cluster: 'east' });
      await admin.leaseAddress('hb-egress', { owner: 'egress:east:deleted-policy', cluster: 'east' });
      // The broker's owner GC with no grace: first pass marks the missing, the second returns them.
      await collectOwnerless(store, 0);
      await collectOwnerless(store, 0);
      expect((await admin.listBlocks({ cluster: 'east' })).items.map((b) => b.id)).toEqual([live.id]);
      expect((await admin.listAddresses({ cluster: 'east' })).items.map((a) => a.ip)).toEqual([held.ip]);
      await admin.releaseBlock(live.id);
      await admin.releaseAddress(held.ip);
      await admin.deletePool('hb-pods');
      await admin.deletePool('hb-egress');
    } finally {
      r.disconnect();
    }
  });

  it('killing the agent, the broker and an API server mid-sync ends in the same state', async () => {
    const [east, west] = members as [Member, Member];
    // Agent: stop east's agent, change the broker, start a fresh agent.
    await east.agent!.stop();
    await admin.createSubnet({ name: 'while-agent-down', cidr: '10.140.0.0/16' });
    await startAgent(east);
    await eventually('subnet after agent restart', async () => get(east, 'subnets', 'while-agent-down'));
    // API server: stop west's, change the broker meanwhile, start it again on the same port with its data.
    expect(west.agent!.heartbeatSets().nodes).toEqual([]);
    await west.api.stop();
    // The caches may miss what happens now: the heartbeat leaves the live sets out rather than send stale ones.
    await eventually('west heartbeat without live sets', async () => Object.keys(west.agent!.heartbeatSets()).length === 0);
    await admin.createSubnet({ name: 'while-api-down', cidr: '10.141.0.0/16' });
    await new Promise((r) => setTimeout(r, 500));
    await west.api.start();
    await eventually('subnet after API server restart', async () => get(west, 'subnets', 'while-api-down'));
    // Broker: stop it, restart on the same port over the same Redis; agents re-watch and keep syncing.
    await broker.stop();
    broker = await startTestBroker(redis.socket, { listen: `127.0.0.1:${brokerPort}`, bookmarkMs: 500 });
    admin = broker.admin;
    await admin.createSubnet({ name: 'after-broker-restart', cidr: '10.142.0.0/16' });
    await admin.deleteSubnet('while-agent-down');
    for (const m of [east, west]) {
      await eventually(`${m.id} converged after broker restart`, async () => (await get(m, 'subnets', 'after-broker-restart')) && !(await get(m, 'subnets', 'while-agent-down')));
    }
    // Same end state in both clusters, and as the broker has it.
    const names = async (m: Member, plural: string): Promise<string[]> => ((await m.custom.listClusterCustomObject({ ...G, plural })) as { items: Obj[] }).items.map((o) => o.metadata.name).sort();
    const want = (await admin.listSubnets()).items.map((s) => s.name).sort();
    for (const m of [east, west]) expect(await names(m, 'subnets')).toEqual(want);
    expect(await names(east, 'ippools')).toEqual(await names(west, 'ippools'));
  });

  it('frees the IP of a deleted pod; a recreated StatefulSet pod gets its IP back', async () => {
    const [east] = members as [Member];
    const ipam = new IpamEngine({ store: new MemoryAllocationStore(), config: { pools: [{ name: 'local', subnet: '10.77.0.0/24', default: true }] } });
    await east.agent!.stop();
    await startAgent(east, { ipam, gcIntervalMs: 200, gcGraceMs: 0 });
    const core = east.kc.makeApiClient(k8s.CoreV1Api);
    const apps = east.kc.makeApiClient(k8s.AppsV1Api);
    const pod = async (name: string): Promise<string> => (await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] } } })).metadata!.uid!;
    const node = { node: { name: 'n1' } };
    const plainUid = await pod('plain');
    const plain = await ipam.allocate({ containerId: 'c-plain', ifName: 'eth0', podUid: plainUid, namespace: 'default', podName: 'plain' }, node);
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { serviceName: 'web', selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
    const webUid = await pod('web-0');
    const web = await ipam.allocate({ containerId: 'c-web-1', ifName: 'eth0', podUid: webUid, namespace: 'default', podName: 'web-0', statefulSet: { name: 'web', ordinal: 0 } }, node);
    await core.deleteNamespacedPod({ namespace: 'default', name: 'plain' });
    await core.deleteNamespacedPod({ namespace: 'default', name: 'web-0' });
    await eventually('plain pod IP freed', async () => !(await ipam.allocations()).some((r) => r.address === plain.ips[0]!.address.split('/')[0]));
    const parked = await eventually('web-0 IP parked', async () => (await ipam.allocations()).find((r) => r.address === web.ips[0]!.address.split('/')[0] && !r.owner));
    expect(parked.sticky).toBe('default/web/0/eth0');
    const web2Uid = await pod('web-0');
    const again = await ipam.allocate({ containerId: 'c-web-2', ifName: 'eth0', podUid: web2Uid, namespace: 'default', podName: 'web-0', statefulSet: { name: 'web', ordinal: 0 } }, node);
    expect(again.ips[0]!.address).toBe(web.ips[0]!.address);
  });

  it('bin/strait join and leave print their steps (the built CLI, as a user runs it)', async () => {
    const north = members[2]!;
    const dir = mkdtempSync(joinPath(tmpdir(), 'strait-join-cli-'));
    try {
      const kubeconfig = north.api.writeKubeconfig(joinPath(dir, 'kubeconfig'));
      const bin = fileURLToPath(new URL('../../bin/strait', import.meta.url));
      const overlap = await run([bin, 'join', '--broker', broker.handle.url, '--token', await token(), '--cluster-id', 'north', '--kubeconfig', kubeconfig, '--pod-cidr', '10.244.1.0/24'], { allowFailure: true, timeoutMs: 60_000 });
      expect(overlap.code).toBe(1);
      expect(overlap.stderr).toMatch(/error CIDR_OVERLAP: .*cluster east/);
      const ok = await run([bin, 'join', '--broker', broker.handle.url, '--token', await token(), '--cluster-id', 'north', '--kubeconfig', kubeconfig, '--pod-cidr', '10.246.0.0/16', '--service-cidr', '10.98.0.0/16'], { timeoutMs: 60_000 });
      expect(ok.stdout).toMatch(/registered at the broker as north/);
      expect(ok.stdout).toMatch(/CRDs: 8 installed/);
      expect(ok.stdout).toMatch(/joined as north/);
      // The real agent binary takes over: the ClusterSet turns Joined and lists all three clusters.
      const agent = spawn(bin, ['member-agent', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'ignore', 'pipe'] });
      try {
        await eventually('north agent syncing', async () => {
          const cs = (await north.custom.getClusterCustomObject({ group: 'multicluster.strait.io', version: 'v1alpha1', plural: 'clustersets', name: 'strait' })) as { status?: { phase?: string; members?: unknown[] } };
          return cs.status?.phase === 'Joined' && cs.status.members?.length === 3 && (await get(north, 'subnets', 'global'));
        }, 60_000);
      } finally {
        agent.kill('SIGTERM');
        await new Promise((r) => (agent.exitCode !== null ? r(undefined) : agent.once('exit', r)));
      }
      const left = await run([bin, 'leave', '--kubeconfig', kubeconfig], { timeoutMs: 60_000 });
      expect(left.stdout).toMatch(/cluster north removed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Four starts of the built CLI, each loading the whole command tree: 45-60 s on a loaded 2-core machine.
  }, 180_000);

  it('rotate-credential: the old credential stops working, the Secret holds the new one, the running agent keeps writing', async () => {
    const [east] = members as [Member];
    if (!east.agent) await startAgent(east);
    const kube = new KubeClient(east.kc);
    const before = (await readCredentials(kube))!;
    const lines: string[] = [];
    await expect(rotateCredential({ kubeConfig: east.kc, say: (l) => lines.push(l) })).resolves.toEqual({ clusterId: 'east' });
    expect(lines.join('\n')).toMatch(/old one no longer works[\s\S]*stored in Secret strait-system\/strait-cluster-credentials/);
    const after = (await readCredentials(kube))!;
    expect(after.token).toMatch(/^c\.east\./);
    expect(after.token).not.toBe(before.token);
    const old = broker.client(before.token);
    await expect(old.getCluster('east')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(broker.client(after.token).getCluster('east')).resolves.toMatchObject({ id: 'east' });
    // The agent was started with the old credential: a pool created in east after the rotation reaches the broker,
    // written with east's new credential (its heartbeat was refused, it read the Secret again).
    await east.custom.createClusterCustomObject({ ...G, plural: 'ippools', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: 'east-rotated' }, spec: { cidr: '10.128.7.0/24', subnet: 'global' } } });
    await eventually('pool pushed after rotation', async () => (await admin.getPool('east-rotated').catch(() => undefined))?.cluster === 'east');
    // The admin rotates it (a leak): the Secret now holds a dead credential; the member-side command says so and
    // names the way out. Storing the admin's credential in the Secret brings the agent back.
    const byAdmin = (await admin.rotateClusterCredential('east')).credentials.token;
    await expect(rotateCredential({ kubeConfig: east.kc })).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/strait cluster rotate-credential east/) });
    await writeSecret(kube, { ...after, token: byAdmin });
    await east.custom.createClusterCustomObject({ ...G, plural: 'ippools', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: 'east-rotated-2' }, spec: { cidr: '10.128.8.0/24', subnet: 'global' } } });
    await eventually('pool pushed after the admin rotation', async () => (await admin.getPool('east-rotated-2').catch(() => undefined))?.cluster === 'east');
  });

  it('leave returns the leases and removes the cluster; a second leave is a no-op', async () => {
    const [, west] = members as [Member, Member];
    await west.agent!.stop();
    west.agent = undefined;
    await admin.createPool({ name: 'west-egress', cidr: '10.143.0.0/24', purpose: 'egress', cluster: 'west' });
    await admin.createPool({ name: 'shared-egress', cidr: '10.144.0.0/24', purpose: 'egress' });
    await admin.leaseAddress('west-egress', { owner: 'egress/x', cluster: 'west' });
    await admin.leaseAddress('shared-egress', { owner: 'egress/y', cluster: 'west' });
    const out = await leaveCluster({ kubeConfig: west.kc });
    expect(out.left).toBe(true);
    expect(out.released.addresses).toBe(2);
    expect((await admin.listClusters()).items.map((c) => c.id)).toEqual(['east']);
    expect((await admin.listAddresses({ cluster: 'west' })).items).toEqual([]);
    // The pool west owned left with it; the admin's pool stays.
    const pools = (await admin.listPools()).items.map((p) => p.name);
    expect(pools).toContain('shared-egress');
    expect(pools).not.toContain('west-egress');
    expect((await leaveCluster({ kubeConfig: west.kc })).left).toBe(false);
  });

  // Least privilege, proven: the agents above ran every path of the member agent through its access-checked client;
  // each declared grant (= its RBAC in deploy/) was needed, and nothing it did was refused.
  it('the member agents used exactly their declared access: every grant, nothing refused', () => {
    expect(accessReport(memberAgentAccess())).toEqual({ unused: [], refused: [] });
  });
});
