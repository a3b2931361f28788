/**
 * API discovery as kubectl and client-go read it: the legacy documents (`/api`, `/apis`, `/api/v1`,
 * `/apis/{group}/{version}`) and the aggregated ones (`apidiscovery.k8s.io/v2` and `v2beta1`, which kubectl 1.30+
 * asks for first on `/api` and `/apis`). Pure: built from the served resource types.
 */
import type { ResourceType } from './resource-types.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const SUB_VERBS = ['get', 'patch', 'update'];

function groupsOf(types: ResourceType[]): Map<string, Map<string, ResourceType[]>> {
  const groups = new Map<string, Map<string, ResourceType[]>>();
  for (const t of types) {
    let versions = groups.get(t.group);
    if (!versions) groups.set(t.group, (versions = new Map()));
    versions.set(t.version, [...(versions.get(t.version) ?? []), t]);
  }
  return groups;
}

export function legacyDiscovery(path: string, types: ResourceType[]): unknown {
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] };
  if (path === '/apis') {
    const groups = [...groupsOf(types).entries()].filter(([g]) => g !== '');
    return {
      kind: 'APIGroupList', apiVersion: 'v1',
      groups: groups.map(([name, versions]) => {
        const vs = [...versions.keys()].map((version) => ({ groupVersion: `${name}/${version}`, version }));
        return { name, versions: vs, preferredVersion: vs[0] };
      }),
    };
  }
  const m = path.match(/^\/(?:api\/(v1)|apis\/([^/]+)(?:\/([^/]+))?)\/?$/);
  if (!m) return undefined;
  const group = m[2] ?? '';
  const version = m[1] ?? m[3];
  if (version === undefined) {
    const versions = groupsOf(types).get(group);
    if (!versions) return undefined;
    const vs = [...versions.keys()].map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
    return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: vs, preferredVersion: vs[0] };
  }
  const resources = types.filter((t) => t.group === group && t.version === version);
  if (!resources.length) return undefined;
  return {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version,
    resources: resources.flatMap((t) => [
      {
        name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: VERBS,
        ...(t.shortNames.length ? { shortNames: t.shortNames } : {}), ...(t.categories.length ? { categories: t.categories } : {}),
      },
      ...(t.statusSubresource ? [{ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: SUB_VERBS }] : []),
    ]),
  };
}

/** The aggregated discovery document for `/api` (core) or `/apis` (every other group). */
export function aggregatedDiscovery(path: '/api' | '/apis', types: ResourceType[], version: 'v2' | 'v2beta1'): unknown {
  const groups = [...groupsOf(types).entries()].filter(([g]) => (path === '/api' ? g === '' : g !== ''));
  return {
    kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {},
    items: groups.map(([name, versions]) => ({
      metadata: name ? { name } : {},
      versions: [...versions.entries()].map(([v, rts]) => ({
        version: v,
        freshness: 'Current',
        resources: rts.map((t) => ({
          resource: t.plural,
          responseKind: { group: t.group, version: t.version, kind: t.kind },
          scope: t.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: t.singular,
          verbs: VERBS,
          ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
          ...(t.categories.length ? { categories: t.categories } : {}),
          ...(t.statusSubresource
            ? { subresources: [{ subresource: 'status', responseKind: { group: t.group, version: t.version, kind: t.kind }, verbs: SUB_VERBS }] }
            : {}),
        })),
      })),
    })),
  };
}
