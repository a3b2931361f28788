import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { isStraitError } from '../../api/index.js';
import { startTestKubeApiServer, type TestKubeApiServer } from '../../testing/index.js';
import { accessProblems, grantFor, requestAttributes, type ComponentAccess } from './kube-access.js';
import { accessChecked, recordedAccess } from './access-guard.js';
import { allComponentAccess } from './component-access.js';
import { KubeClient } from './kube-client.js';
import { ResilientInformer } from './informer-set.js';

describe('requestAttributes (kube-apiserver RequestInfo)', () => {
  it.each([
    ['GET', '/api/v1/nodes', { verb: 'list', group: '', resource: 'nodes' }],
    ['GET', '/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn1', { verb: 'watch', group: '', resource: 'pods' }],
    ['GET', '/api/v1/namespaces', { verb: 'list', group: '', resource: 'namespaces' }],
    ['GET', '/api/v1/namespaces/strait-system', { verb: 'get', group: '', resource: 'namespaces', name: 'strait-system' }],
    ['PUT', '/api/v1/namespaces/x/status', { verb: 'update', group: '', resource: 'namespaces/status', name: 'x' }],
    ['GET', '/api/v1/namespaces/strait-system/secrets/s1', { verb: 'get', group: '', resource: 'secrets', namespace: 'strait-system', name: 's1' }],
    ['GET', '/api/v1/namespaces/a/pods', { verb: 'list', group: '', resource: 'pods', namespace: 'a' }],
    ['POST', '/apis/coordination.k8s.io/v1/namespaces/s/leases', { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: 's' }],
    ['PATCH', '/apis/ipam.strait.io/v1alpha1/ippools/p1/status', { verb: 'patch', group: 'ipam.strait.io', resource: 'ippools/status', name: 'p1' }],
    ['DELETE', '/apis/ipam.strait.io/v1alpha1/ippools/p1', { verb: 'delete', group: 'ipam.strait.io', resource: 'ippools', name: 'p1' }],
    ['DELETE', '/apis/ipam.strait.io/v1alpha1/ippools', { verb: 'deletecollection', group: 'ipam.strait.io', resource: 'ippools' }],
    ['GET', 'https://10.0.0.1:6443/apis/apps/v1/namespaces/a/statefulsets/web', { verb: 'get', group: 'apps', resource: 'statefulsets', namespace: 'a', name: 'web' }],
  ])('%s %s', (method, url, want) => {
    expect(requestAttributes(method, url)).toEqual(want);
  });

  it.each(['/version', '/healthz', '/api', '/api/v1', '/apis', '/apis/apps/v1', '/openapi/v3'])('%s is not a resource request', (path) => {
    expect(requestAttributes('GET', path)).toBeUndefined();
  });
});

describe('grantFor (RBAC matching)', () => {
  const rules: ComponentAccess['rules'] = [
    { group: '', resource: 'secrets', verbs: ['get'], namespace: 'ns', names: ['creds'], why: '' },
    { group: '', resource: 'pods', verbs: ['list', 'watch'], why: '' },
  ];
  it.each([
    ['GET', '/api/v1/namespaces/ns/secrets/creds', true],
    ['GET', '/api/v1/namespaces/ns/secrets/other', false],
    ['GET', '/api/v1/namespaces/other/secrets/creds', false],
    ['GET', '/api/v1/namespaces/ns/secrets', false],
    ['PUT', '/api/v1/namespaces/ns/secrets/creds', false],
    ['GET', '/api/v1/pods', true],
    ['GET', '/api/v1/namespaces/any/pods?watch=1', true],
    ['GET', '/api/v1/namespaces/any/pods/p', false],
    ['PATCH', '/api/v1/namespaces/any/pods/p/status', false],
  ])('%s %s → %s', (method, url, allowed) => {
    expect(grantFor(rules, requestAttributes(method, url)!) !== undefined).toBe(allowed);
  });

  it('every component declaration is well formed (no names on verbs RBAC cannot restrict by name)', () => {
    expect(allComponentAccess().flatMap(accessProblems)).toEqual([]);
    expect(accessProblems({ component: 'x', rules: [{ group: '', resource: 'pods', verbs: ['list'], names: ['a'], why: '' }] })).toEqual([
      'x: pods: list cannot be restricted by name (RBAC ignores resourceNames for them)',
    ]);
  });
});

describe('accessChecked: undeclared calls get the 403 RBAC would give, before any request is sent', () => {
  let api: TestKubeApiServer;
  const access: ComponentAccess = {
    component: 'guard-test',
    rules: [
      { group: '', resource: 'namespaces', verbs: ['get'], why: 'test' },
      { group: '', resource: 'nodes', verbs: ['list'], why: 'test' },
    ],
  };
  beforeAll(async () => {
    api = await startTestKubeApiServer({ bookmarkIntervalMs: 200 });
  });
  afterAll(async () => {
    await api.stop();
  });

  it('lets declared calls through and refuses the rest with KUBE_API_ERROR 403, sending nothing', async () => {
    const kube = new KubeClient(accessChecked(api.kubeConfig(), access));
    expect((await kube.readNamespace('default'))?.metadata?.name).toBe('default');
    const before = api.requests.length;
    const err = await kube.call('create a Namespace', () => kube.core.createNamespace({ body: { metadata: { name: 'nope' } } })).catch((e: unknown) => e);
    expect(isStraitError(err, 'KUBE_API_ERROR')).toBe(true);
    expect((err as { details: { status: number } }).details.status).toBe(403);
    expect((err as Error).message).toMatch(/create namespaces \(cluster-wide\).*guard-test does not declare it/);
    expect(api.requests.length).toBe(before);
    expect(api.get('', 'namespaces', 'nope')).toBeUndefined();
    const uses = recordedAccess('guard-test');
    expect(uses.filter((u) => u.grant).map((u) => u.request.verb)).toEqual(['get']);
    expect(uses.filter((u) => !u.grant).map((u) => u.request.verb)).toEqual(['create']);
  });

  it('an informer whose watch is not declared lists, then fails its watch with 403 (and keeps retrying, as on a cluster)', async () => {
    const kc = accessChecked(api.kubeConfig(), access);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const errors: unknown[] = [];
    const inf = new ResilientInformer(kc, '/api/v1/nodes', () => core.listNode(), () => undefined, (e) => errors.push(e));
    await inf.start();
    const deadline = Date.now() + 5_000;
    while (!errors.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await inf.stop();
    expect(inf.synced).toBe(true);
    expect((errors[0] as { statusCode?: number }).statusCode).toBe(403);
    expect(api.requests.filter((r) => r === 'GET nodes').length).toBeGreaterThan(0);
    expect(recordedAccess('guard-test').some((u) => !u.grant && u.request.verb === 'watch' && u.request.resource === 'nodes')).toBe(true);
  });
});
