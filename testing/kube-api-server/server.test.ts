import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ALL_KINDS, crdAsClientModel, crdManifestOf } from '../../crds/index.js';
import { startTestKubeApiServer, type TestKubeApiServer } from '../index.js';

// Exercises the test API server with @kubernetes/client-node itself, the client the agent uses.
const G = { group: 'ipam.strait.io', version: 'v1alpha1', plural: 'subnets' };
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface Obj { metadata: { name: string; resourceVersion: string; generation?: number; deletionTimestamp?: string; finalizers?: string[] }; spec: Record<string, unknown>; status?: Record<string, unknown> }

async function until<T>(fn: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('TestKubeApiServer with client-node', () => {
  let server: TestKubeApiServer;
  let kc: k8s.KubeConfig;
  let custom: k8s.CustomObjectsApi;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    server = await startTestKubeApiServer({ historyLimit: 50, bookmarkIntervalMs: 200 });
    kc = server.kubeConfig();
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    core = kc.makeApiClient(k8s.CoreV1Api);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    // The typed client serialises its model (`_default`, …), hence crdAsClientModel.
    for (const def of ALL_KINDS) {
      await ext.createCustomResourceDefinition({ body: crdAsClientModel(crdManifestOf(def)) as unknown as k8s.V1CustomResourceDefinition });
    }
  });
  afterAll(async () => {
    await server.stop();
  });

  it('registers CRDs as Established and serves their resources', async () => {
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const crd = await ext.readCustomResourceDefinition({ name: 'subnets.ipam.strait.io' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    const list = (await custom.listClusterCustomObject(G)) as { items: unknown[]; metadata: { resourceVersion: string } };
    expect(list.items).toEqual([]);
    expect(Number(list.metadata.resourceVersion)).toBeGreaterThan(0);
  });

  it('creates with defaults, rejects duplicates (409) and schema violations (422)', async () => {
    const o = (await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'a' }, spec: { cidr: '10.0.0.0/16' } } })) as Obj;
    expect(o.metadata.generation).toBe(1);
    const pool = (await custom.createClusterCustomObject({ group: 'ipam.strait.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/24' } } })) as Obj;
    expect(pool.spec).toMatchObject({ purpose: 'pods', default: false });
    await expect(custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'a' }, spec: { cidr: '10.0.0.0/16' } } })).rejects.toMatchObject({ code: 409 });
    await expect(custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'bad' }, spec: { cidr: 'nope' } } })).rejects.toMatchObject({ code: 422 });
    await expect(custom.getClusterCustomObject({ ...G, name: 'bad' })).rejects.toMatchObject({ code: 404 });
  });

  it('replace with a stale resourceVersion is 409; spec changes bump generation, status writes do not', async () => {
    const cur = (await custom.getClusterCustomObject({ ...G, name: 'a' })) as Obj;
    const next = (await custom.replaceClusterCustomObject({ ...G, name: 'a', body: { ...cur, spec: { ...cur.spec, description: 'x' } } })) as Obj;
    expect(next.metadata.generation).toBe(2);
    await expect(custom.replaceClusterCustomObject({ ...G, name: 'a', body: { ...cur, spec: { ...cur.spec, description: 'y' } } })).rejects.toMatchObject({ code: 409 });
    // Main resource ignores status; the status subresource changes only status.
    const ignored = (await custom.replaceClusterCustomObject({ ...G, name: 'a', body: { ...next, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'R' }] } } })) as Obj;
    expect(ignored.status).toBeUndefined();
    const st = (await custom.patchClusterCustomObjectStatus({ ...G, name: 'a', body: { spec: { cidr: '10.9.0.0/16' }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'R' }] } } }, merge)) as Obj;
    expect(st.spec.cidr).toBe('10.0.0.0/16');
    expect(st.status).toMatchObject({ conditions: [{ type: 'Ready', status: 'True', reason: 'R' }] });
    expect(st.metadata.generation).toBe(2);
    // Merge patch with a stale resourceVersion is a failed precondition.
    await expect(custom.patchClusterCustomObject({ ...G, name: 'a', body: { metadata: { resourceVersion: cur.metadata.resourceVersion }, spec: { description: 'z' } } }, merge)).rejects.toMatchObject({ code: 409 });
    const patched = (await custom.patchClusterCustomObject({ ...G, name: 'a', body: { spec: { description: null } } }, merge)) as Obj;
    expect(patched.spec.description).toBeUndefined();
    expect(patched.metadata.generation).toBe(3);
  });

  it('finalizers defer deletion until they are removed', async () => {
    await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'fin', finalizers: ['strait.io/x'] }, spec: { cidr: '10.1.0.0/16' } } });
    await custom.deleteClusterCustomObject({ ...G, name: 'fin' });
    const o = (await custom.getClusterCustomObject({ ...G, name: 'fin' })) as Obj;
    expect(o.metadata.deletionTimestamp).toBeDefined();
    await custom.patchClusterCustomObject({ ...G, name: 'fin', body: { metadata: { finalizers: null } } }, merge);
    await expect(custom.getClusterCustomObject({ ...G, name: 'fin' })).rejects.toMatchObject({ code: 404 });
  });

  it('namespaces, secrets (stringData), pods, leases; deleting a namespace deletes its objects', async () => {
    await core.createNamespace({ body: { metadata: { name: 'ns1' } } });
    await core.createNamespacedSecret({ namespace: 'ns1', body: { metadata: { name: 's' }, stringData: { token: 'abc' } } });
    const s = await core.readNamespacedSecret({ namespace: 'ns1', name: 's' });
    expect(Buffer.from(s.data?.token ?? '', 'base64').toString()).toBe('abc');
    await expect(core.createNamespacedSecret({ namespace: 'nope', body: { metadata: { name: 's' } } })).rejects.toMatchObject({ code: 404 });
    await core.createNamespacedPod({ namespace: 'ns1', body: { metadata: { name: 'p', labels: { app: 'x' } }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] } } });
    expect((await core.listPodForAllNamespaces({ labelSelector: 'app=x' })).items).toHaveLength(1);
    expect((await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n2' })).items).toHaveLength(0);
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    await coord.createNamespacedLease({ namespace: 'ns1', body: { metadata: { name: 'l' }, spec: { holderIdentity: 'me', leaseDurationSeconds: 10 } } });
    await core.deleteNamespace({ name: 'ns1' });
    await expect(core.readNamespacedSecret({ namespace: 'ns1', name: 's' })).rejects.toMatchObject({ code: 404 });
    await expect(coord.readNamespacedLease({ namespace: 'ns1', name: 'l' })).rejects.toMatchObject({ code: 404 });
  });

  it('informers see changes, relist after 410 and resume after a restart on the same port', async () => {
    const path = '/apis/ipam.strait.io/v1alpha1/subnets';
    const inf = k8s.makeInformer(kc, path, () => custom.listClusterCustomObject(G) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>);
    const seen = new Map<string, string>();
    let stopping = false;
    inf.on('add', (o) => seen.set(o.metadata?.name ?? '', String((o as unknown as Obj).spec.cidr)));
    inf.on('update', (o) => seen.set(o.metadata?.name ?? '', String((o as unknown as Obj).spec.cidr)));
    inf.on('delete', (o) => seen.delete(o.metadata?.name ?? ''));
    inf.on('error', () => {
      if (!stopping) setTimeout(() => void inf.start().catch(() => undefined), 100);
    });
    await inf.start();
    await until(() => seen.get('a') === '10.0.0.0/16');
    await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'w1' }, spec: { cidr: '10.2.0.0/16' } } });
    await until(() => seen.has('w1'));

    // Expired history: the next watch gets 410 and the informer relists.
    server.compact();
    server.closeWatches();
    await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'w2' }, spec: { cidr: '10.3.0.0/16' } } });
    await until(() => seen.has('w2'));

    // Restart: data survives, the informer comes back and sees later changes and deletions.
    await server.restart();
    await custom.deleteClusterCustomObject({ ...G, name: 'w1' });
    await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'w3' }, spec: { cidr: '10.4.0.0/16' } } });
    await until(() => seen.has('w3') && !seen.has('w1'));
    expect(seen.get('a')).toBe('10.0.0.0/16');
    stopping = true;
    await inf.stop();
  });

  it('a raw watch replays events newer than its resourceVersion and sends bookmarks', async () => {
    const list = (await custom.listClusterCustomObject(G)) as { metadata: { resourceVersion: string } };
    await custom.createClusterCustomObject({ ...G, body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: 'r1' }, spec: { cidr: '10.5.0.0/16' } } });
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const ctl = await watch.watch('/apis/ipam.strait.io/v1alpha1/subnets', { resourceVersion: list.metadata.resourceVersion }, (type, obj: Obj) => events.push(`${type}:${obj.metadata?.name ?? ''}`), () => undefined);
    await until(() => events.includes('ADDED:r1') && events.some((e) => e.startsWith('BOOKMARK')));
    expect(events[0]).toBe('ADDED:r1');
    ctl.abort();
    // A watch from before the compaction point is refused with 410.
    server.compact();
    let status = 0;
    await watch.watch('/apis/ipam.strait.io/v1alpha1/subnets', { resourceVersion: list.metadata.resourceVersion }, () => undefined, (err: { statusCode?: number } | null) => { status = err?.statusCode ?? -1; });
    await until(() => status !== 0);
    expect(status).toBe(410);
  });

  it('answers Table requests with the CRD printer columns, discovery (aggregated too) and OpenAPI v3', async () => {
    const get = async (path: string, accept: string): Promise<{ type: string; body: Record<string, unknown> }> => {
      const r = await fetch(`${server.url}${path}`, { headers: { Accept: accept } });
      return { type: r.headers.get('content-type') ?? '', body: (await r.json()) as Record<string, unknown> };
    };
    const table = await get('/apis/ipam.strait.io/v1alpha1/ippools', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json');
    expect(table.type).toContain('as=Table');
    const t = table.body as { columnDefinitions: { name: string }[]; rows: { cells: unknown[]; object: { kind: string } }[] };
    expect(t.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'CIDR', 'Block', 'Purpose', 'Allocated', 'Blocks', 'Total', 'Default', 'Ready', 'Synced', 'Age']);
    expect(t.rows[0]?.cells.slice(0, 8)).toEqual(['p', '10.0.0.0/24', null, 'pods', null, null, null, false]);
    expect(t.rows[0]?.object.kind).toBe('PartialObjectMetadata');
    const agg = await get('/apis', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json');
    expect(agg.type).toContain('as=APIGroupDiscoveryList');
    const groups = (agg.body as { items: { metadata: { name: string }; versions: { resources: { resource: string; scope: string }[] }[] }[] }).items;
    expect(groups.find((g) => g.metadata.name === 'ipam.strait.io')?.versions[0]?.resources).toContainEqual(expect.objectContaining({ resource: 'ippools', scope: 'Cluster' }));
    expect(groups.map((g) => g.metadata.name)).toEqual(expect.arrayContaining(['apps', 'rbac.authorization.k8s.io', 'coordination.k8s.io']));
    const index = (await get('/openapi/v3', 'application/json')).body as { paths: Record<string, { serverRelativeURL: string }> };
    const doc = (await get(index.paths['apis/ipam.strait.io/v1alpha1']?.serverRelativeURL ?? '', 'application/json')).body as {
      paths: Record<string, { patch?: { 'x-kubernetes-group-version-kind': unknown; parameters: { name: string }[] } }>;
      components: { schemas: Record<string, { 'x-kubernetes-group-version-kind'?: unknown }> };
    };
    const patch = doc.paths['/apis/ipam.strait.io/v1alpha1/ippools/{name}']?.patch;
    expect(patch?.['x-kubernetes-group-version-kind']).toEqual({ group: 'ipam.strait.io', version: 'v1alpha1', kind: 'IPPool' });
    expect(patch?.parameters.map((p) => p.name)).toContain('fieldValidation');
    expect(doc.components.schemas['io.strait.ipam.v1alpha1.IPPool']?.['x-kubernetes-group-version-kind']).toEqual([{ group: 'ipam.strait.io', version: 'v1alpha1', kind: 'IPPool' }]);
    expect(Object.keys(index.paths)).toEqual(expect.arrayContaining(['api/v1', 'apis/apps/v1', 'apis/rbac.authorization.k8s.io/v1']));
  });

  it('pods by spec.nodeName and labels, in list and watch (what the node agent informers use)', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'on-n1', labels: { app: 'web' } }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] } } });
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'on-n2', labels: { app: 'web' } }, spec: { nodeName: 'n2', containers: [{ name: 'c', image: 'i' }] } } });
    const list = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=n1', labelSelector: 'app in (web,api)' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['on-n1']);
    expect(list.items[0]?.status?.phase).toBe('Pending');
    const events: string[] = [];
    const ctl = await new k8s.Watch(kc).watch('/api/v1/pods', { fieldSelector: 'spec.nodeName=n2', resourceVersion: list.metadata?.resourceVersion }, (type, obj: Obj) => events.push(`${type}:${obj.metadata?.name ?? ''}`), () => undefined);
    await core.patchNamespacedPod({ namespace: 'default', name: 'on-n1', body: { metadata: { labels: { x: '1' } } } }, merge);
    await core.patchNamespacedPod({ namespace: 'default', name: 'on-n2', body: { metadata: { labels: { x: '1' } } } }, merge);
    await until(() => events.includes('MODIFIED:on-n2'));
    expect(events.filter((e) => !e.startsWith('BOOKMARK'))).toEqual(['MODIFIED:on-n2']);
    ctl.abort();
    await expect(core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName' })).rejects.toMatchObject({ code: 400 });
  });

  it('deleting an owner deletes its dependents (Background), or leaves them without the reference (Orphan)', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const ds = await apps.createNamespacedDaemonSet({ namespace: 'default', body: { metadata: { name: 'agent' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
    const owned = (name: string): k8s.V1Pod => ({ metadata: { name, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: ds.metadata?.uid ?? '' }] }, spec: { containers: [{ name: 'c', image: 'i' }] } });
    await core.createNamespacedPod({ namespace: 'default', body: owned('agent-1') });
    await apps.deleteNamespacedDaemonSet({ namespace: 'default', name: 'agent' });
    await expect(core.readNamespacedPod({ namespace: 'default', name: 'agent-1' })).rejects.toMatchObject({ code: 404 });
    const ds2 = await apps.createNamespacedDaemonSet({ namespace: 'default', body: { ...ds, metadata: { name: 'agent' } } });
    await core.createNamespacedPod({ namespace: 'default', body: { ...owned('agent-2'), metadata: { name: 'agent-2', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: ds2.metadata?.uid ?? '' }] } } });
    await apps.deleteNamespacedDaemonSet({ namespace: 'default', name: 'agent', propagationPolicy: 'Orphan' });
    expect((await core.readNamespacedPod({ namespace: 'default', name: 'agent-2' })).metadata?.ownerReferences).toBeUndefined();
  });

  it('injected faults fail the next matching request only', async () => {
    server.injectFault({ method: 'PUT', path: '/subnets/a', status: 409 });
    const cur = (await custom.getClusterCustomObject({ ...G, name: 'a' })) as Obj;
    await expect(custom.replaceClusterCustomObject({ ...G, name: 'a', body: cur })).rejects.toMatchObject({ code: 409 });
    await expect(custom.replaceClusterCustomObject({ ...G, name: 'a', body: cur })).resolves.toBeDefined();
  });
});
