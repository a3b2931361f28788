import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { Namespace, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { isStraitError } from '../api/index.js';
import { ALL_KINDS } from '../crds/index.js';
import { allComponentAccess, type ComponentAccess } from '../member-agent/index.js';
import { startTestKubeApiServer, type TestKubeApiServer } from '../testing/index.js';
import { defaultInstallOptions, installObjects, renderManifests, type InstallOptions } from './install-manifests.js';
import { manifestsHeader } from './manifests-header.js';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const defaults = defaultInstallOptions(version);
const objects = installObjects(defaults) as Obj[];
const committed = parseAllDocuments(readFileSync(new URL('./strait.yaml', import.meta.url), 'utf8')).map((d) => d.toJS() as Obj).filter(Boolean);

/** kubernetes-models class per apiVersion/kind: the Kubernetes API's own OpenAPI schemas, compiled. */
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': Namespace, 'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment, 'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole, 'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role, 'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};
const validate = (o: Obj): void => {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(structuredClone(o) as never).validate();
};

describe('install manifests (deploy/strait.yaml, `strait manifests`)', () => {
  it('deploy/strait.yaml is what `strait manifests` prints with its defaults (npm run gen:deploy)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(objects)));
    const printed = renderManifests(objects, manifestsHeader('x'));
    expect(parseAllDocuments(printed).map((d) => d.toJS() as unknown)).toEqual(committed);
  });

  it('holds the namespace, every CRD, and per component a ServiceAccount and its workload', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names[0]).toBe('Namespace/strait-system');
    expect(objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort()).toEqual(ALL_KINDS.map((k) => `${k.plural}.${k.group}`).sort());
    expect(names).toEqual(expect.arrayContaining([
      'ServiceAccount/strait-member-agent', 'Deployment/strait-member-agent',
      'ServiceAccount/strait-node-agent', 'DaemonSet/strait-node-agent',
      'ServiceAccount/strait-gateway-agent', 'DaemonSet/strait-gateway-agent',
      'ServiceAccount/strait-node-steer', 'DaemonSet/strait-node-steer',
    ]));
    // Apply order: a workload comes after its ServiceAccount and roles, and everything after the namespace and CRDs.
    const at = (n: string): number => names.indexOf(n);
    expect(at('ServiceAccount/strait-node-agent')).toBeLessThan(at('DaemonSet/strait-node-agent'));
    expect(Math.max(...objects.flatMap((o, i) => (o.kind === 'CustomResourceDefinition' ? [i] : [])))).toBeLessThan(at('ServiceAccount/strait-member-agent'));
  });

  it('every object is valid against the Kubernetes API schemas (kubernetes-models)', () => {
    for (const o of objects) expect(() => validate(o)).not.toThrow();
  });

  it('the schema check is real: a broken object is refused', () => {
    const ds = structuredClone(objects.find((o) => o.kind === 'DaemonSet')!) as Obj & { spec: { template: { spec: { containers: { ports?: unknown }[] } } } };
    ds.spec.template.spec.containers[0]!.ports = [{ containerPort: 'eighty' }];
    expect(() => validate(ds)).toThrow(/containerPort/);
    const role = structuredClone(objects.find((o) => o.kind === 'ClusterRole')!) as Obj & { rules: { verbs?: unknown }[] };
    delete role.rules[0]!.verbs;
    expect(() => validate(role)).toThrow(/verbs/);
  });

  it('the member agent is a 2-replica Deployment that leader-elects; the node agent installs the CNI plugin; the gateway agent runs on gateway nodes only', () => {
    const dep = objects.find((o) => o.kind === 'Deployment') as unknown as k8s.V1Deployment;
    expect(dep.spec?.replicas).toBe(2);
    expect(dep.spec?.template.spec?.containers[0]?.args?.[0]).toBe('member-agent');
    expect(dep.spec?.template.spec?.securityContext?.runAsNonRoot).toBe(true);
    const node = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'strait-node-agent') as unknown as k8s.V1DaemonSet;
    const init = node.spec?.template.spec?.initContainers?.[0];
    expect(init?.args?.[0]).toBe('install-cni');
    const mounts = Object.fromEntries((node.spec?.template.spec?.volumes ?? []).map((v) => [v.name, v.hostPath?.path]));
    expect(init?.volumeMounts?.map((m) => [m.mountPath, mounts[m.name]])).toEqual([['/host/opt/cni/bin', '/opt/cni/bin'], ['/host/etc/cni/net.d', '/etc/cni/net.d']]);
    expect(node.spec?.template.spec?.hostNetwork).toBe(true);
    expect(node.spec?.template.spec?.containers[0]?.securityContext?.capabilities?.drop).toEqual(['ALL']);
    expect(node.spec?.template.spec?.containers[0]?.securityContext?.capabilities?.add).toBeUndefined();
    const gw = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'strait-gateway-agent') as unknown as k8s.V1DaemonSet;
    expect(gw.spec?.template.spec?.nodeSelector).toEqual({ 'strait.io/gateway': 'true' });
    expect(gw.spec?.template.spec?.hostNetwork).toBe(true);
    expect(gw.spec?.template.spec?.automountServiceAccountToken).toBeUndefined(); // its token reads pods and namespaces (egress selectors)
    expect(gw.spec?.template.spec?.containers[0]?.securityContext?.capabilities?.add).toEqual(['NET_ADMIN', 'NET_RAW']);
    // node-steer: every node, its own identity, NET_ADMIN (routes, VXLAN, nft) and SYS_NICE (chrt), not privileged.
    const steer = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'strait-node-steer') as unknown as k8s.V1DaemonSet;
    const steerPod = steer.spec?.template.spec;
    expect(steerPod?.nodeSelector).toBeUndefined();
    expect(steerPod?.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(steerPod?.hostNetwork).toBe(true);
    expect(steerPod?.serviceAccountName).toBe('strait-node-steer');
    expect(steerPod?.containers[0]?.args?.slice(0, 3)).toEqual(['node-steer', '--cluster', '$(STRAIT_CLUSTER_ID)']);
    expect(steerPod?.containers[0]?.args).toContain('--egress-from-broker');
    expect(steerPod?.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_NICE'] } });
    expect(steerPod?.containers[0]?.securityContext?.privileged).toBeUndefined();
  });

  it('options reach the objects; bad options are refused with a clear error', () => {
    const o: InstallOptions = { ...defaults, image: 'registry.example/strait:dev', broker: 'https://broker.example:8443', gatewayCandidates: ['gw1=10.0.0.11@100', 'gw2=10.0.0.12@90'], gatewayArgs: ['--wan-dev=eth1'], nodeSteerArgs: ['--dev=eth0'] };
    const text = JSON.stringify(installObjects(o));
    expect(text).toContain('"image":"registry.example/strait:dev"');
    expect(text).toContain('"value":"https://broker.example:8443"');
    expect(text).toContain('"--candidate","gw1=10.0.0.11@100","--candidate","gw2=10.0.0.12@90","--wan-dev=eth1"');
    expect(text).toContain('"--candidate","gw1=10.0.0.11@100","--candidate","gw2=10.0.0.12@90","--dev=eth0"');
    // Three lease stores: the gateway agents get the quorum lease (docs/gateways.md).
    const quorum = 'redis://l1.example:6379,redis://l2.example:6379,redis://l3.example:6379';
    expect(JSON.stringify(installObjects({ ...o, leaseRedis: quorum }))).toContain(`"--lease-redis","${quorum}"`);
    for (const [bad, msg] of [
      [{ image: 'a b' }, /--image/],
      [{ namespace: 'other' }, /--namespace other/],
      [{ broker: 'ftp://x' }, /--broker must be a http\(s\) URL/],
      [{ leaseRedis: 'localhost:6379' }, /--lease-redis/],
      [{ leaseRedis: 'redis://a:6379,redis://b:6379' }, /2 stores survive no more failures than 1/],
      [{ leaseRedis: 'redis://a:6379,redis://b:6379,redis://a:6379' }, /named twice/],
      [{ leaseRedis: 'redis://a:6379,redis://b:6379,b:6379' }, /--lease-redis must be a redis/],
      [{ gatewayCandidates: ['gw1@100'] }, /--gateway-candidate gw1@100/],
    ] as const) {
      const err = (() => { try { installObjects({ ...defaults, ...bad }); return undefined; } catch (e) { return e; } })();
      expect(isStraitError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect((err as Error).message).toMatch(msg);
    }
  });
});

/** (namespace or *, group, resource, verb, name or *) tuples: what a set of RBAC rules allows, flattened. */
type Grant = string;
const flatten = (ns: string, rules: readonly { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] }[]): Grant[] =>
  rules.flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.flatMap((v) => (r.resourceNames?.length ? r.resourceNames : ['*']).map((n) => `${ns} ${g}/${res} ${v} ${n}`)))));

/** What the manifests grant a ServiceAccount, read from the manifests alone (bindings → roles → rules). */
function grantsInManifests(sa: string, ns: string): Grant[] {
  const isSubject = (b: Obj): boolean => ((b as unknown as k8s.V1RoleBinding).subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === ns);
  const role = (kind: string, name: string, roleNs?: string): k8s.V1Role | undefined =>
    committed.find((o) => o.kind === kind && o.metadata.name === name && (roleNs === undefined || o.metadata.namespace === roleNs)) as unknown as k8s.V1Role | undefined;
  const out: Grant[] = [];
  for (const b of committed.filter((o) => (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') && isSubject(o))) {
    const ref = (b as unknown as k8s.V1RoleBinding).roleRef;
    const bindingNs = b.kind === 'RoleBinding' ? b.metadata.namespace! : '*';
    const r = ref.kind === 'ClusterRole' ? role('ClusterRole', ref.name) : role('Role', ref.name, b.metadata.namespace);
    if (!r) throw new Error(`${b.kind} ${b.metadata.name} refers to a missing ${ref.kind} ${ref.name}`);
    out.push(...flatten(bindingNs, r.rules ?? []));
  }
  return out.sort();
}

const declared = (a: ComponentAccess): Grant[] =>
  a.rules.flatMap((r) => flatten(r.namespace ?? '*', [{ apiGroups: [r.group], resources: [r.resource], verbs: [...r.verbs], ...(r.names ? { resourceNames: [...r.names] } : {}) }])).sort();

describe('least privilege: each component\'s RBAC is exactly its declared access', () => {
  // The declared access is what the component's client lets through (access-guard.ts); the tests that drive each
  // component (cluster-sync.test.ts, pod-gc.test.ts) prove that every grant is used. This closes the loop to the
  // manifests, read back from deploy/strait.yaml without the code that generated them.
  it.each(allComponentAccess().map((a) => [a.component, a] as const))('%s', (component, access) => {
    const workload = committed.find((o) => (o.kind === 'Deployment' || o.kind === 'DaemonSet') && o.metadata.name === `strait-${component}`) as unknown as k8s.V1Deployment;
    const sa = workload.spec?.template.spec?.serviceAccountName;
    expect(sa).toBe(`strait-${component}`);
    expect(grantsInManifests(sa!, workload.metadata!.namespace!)).toEqual(declared(access));
    // No wildcard group, resource or verb, no escalation verb, and Secrets only by name.
    for (const g of grantsInManifests(sa!, workload.metadata!.namespace!)) {
      const [, groupResource = '', verb = '', name = ''] = g.split(' ');
      expect(groupResource).not.toContain('*');
      expect(['*', 'escalate', 'bind', 'impersonate']).not.toContain(verb);
      if (groupResource === '/secrets') expect(name).not.toBe('*');
    }
    const token = workload.spec?.template.spec?.automountServiceAccountToken;
    expect(token === false).toBe(access.rules.length === 0);
  });

  it('docs/install.md names every grant of every component in that component\'s section', () => {
    const doc = readFileSync(new URL('../docs/install.md', import.meta.url), 'utf8');
    const title: Record<string, string> = { 'member-agent': 'Member agent', 'node-agent': 'Node agent', 'gateway-agent': 'Gateway agent', 'node-steer': 'Node steering' };
    for (const a of allComponentAccess()) {
      const section = doc.split('\n### ').find((s) => s.startsWith(title[a.component]!)) ?? '';
      expect([a.component, section.length > 0]).toEqual([a.component, true]);
      for (const r of a.rules) {
        const plural = r.resource.split('/')[0]!;
        expect([a.component, plural, section.includes(`\`${plural}\``) || section.includes(` ${plural},`) || section.includes(` ${plural} `)]).toEqual([a.component, plural, true]);
        for (const v of r.verbs) expect([a.component, plural, v, section.includes(v)]).toEqual([a.component, plural, v, true]);
      }
    }
  });

  it('the gateway agent reads only pods and namespaces, through the access-checked view (no client-node of its own)', () => {
    const gatewayAccess = allComponentAccess().find((a) => a.component === 'gateway-agent')!;
    expect(gatewayAccess.rules.map((r) => `${r.resource} ${r.verbs.join(',')}`)).toEqual(['pods list,watch', 'namespaces list,watch']);
    // Its Kubernetes calls go through member-agent's KubeEgressClusterView, wrapped with the declared access: the
    // gateway room itself must not grow a client that bypasses the guard.
    const root = fileURLToPath(new URL('../gateway/', import.meta.url));
    const users = (readdirSync(root, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && readFileSync(join(root, f), 'utf8').includes('@kubernetes/client-node'));
    expect(users).toEqual([]);
  });
});

describe('applied to the (test) Kubernetes API server', () => {
  let api: TestKubeApiServer;
  beforeAll(async () => {
    api = await startTestKubeApiServer();
  });
  afterAll(async () => {
    await api.stop();
  });

  it('every object is accepted in order, the CRDs are served, and a second apply is a no-op update', async () => {
    const client = k8s.KubernetesObjectApi.makeApiClient(api.kubeConfig());
    for (const o of committed) await client.create(o as k8s.KubernetesObject);
    for (const o of committed) {
      const got = await client.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) } });
      expect(got.metadata?.uid).toBeTruthy();
    }
    // The CRDs are live: an IPPool can be created and is validated against its schema.
    const custom = api.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
    await custom.createClusterCustomObject({ group: 'ipam.strait.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: 'p1' }, spec: { cidr: '10.10.0.0/24' } } });
    const bad = await custom.createClusterCustomObject({ group: 'ipam.strait.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name: 'p2' }, spec: { cidr: 42 } } }).catch((e: unknown) => e);
    expect((bad as { code?: number }).code).toBe(422);
    // Re-applying (kubectl apply after an upgrade) replaces each object in place.
    for (const o of committed) {
      const cur = await client.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) } });
      await client.replace({ ...o, metadata: { ...o.metadata, resourceVersion: cur.metadata?.resourceVersion } } as k8s.KubernetesObject);
    }
  });
});
