/**
 * What a component may do on the Kubernetes API, as data. Each component declares its calls once (a
 * `ComponentAccess`, see component-access.ts); its kube client is wrapped by `accessChecked()` (access-guard.ts),
 * which refuses every request the declaration does not cover with the 403 RBAC would give, and the install
 * manifests derive the component's ClusterRole/Role from the same declaration. The pure part lives here: the
 * request → attributes mapping (as kube-apiserver's RequestInfo does it) and the matching (as RBAC does it).
 */

export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** One grant; becomes one RBAC PolicyRule. */
export interface KubeAccess {
  /** API group, '' for the core group. */
  group: string;
  /** Resource plural, with `/status` for the status subresource. */
  resource: string;
  verbs: readonly KubeVerb[];
  /** Granted in this namespace only (a Role); absent: cluster-wide (a ClusterRole). */
  namespace?: string;
  /** Only these objects. RBAC cannot restrict list, watch or create by name, so a rule with names holds none of them. */
  names?: readonly string[];
  /** Why the component needs it (shown in docs/install.md and the generated manifests). */
  why: string;
}

export interface ComponentAccess {
  /** `member-agent`, `node-agent`, `gateway-agent`: names the ServiceAccount and the roles (`strait-<component>`). */
  component: string;
  rules: readonly KubeAccess[];
}

/** What a request asks for, in RBAC terms. */
export interface RequestAttributes {
  verb: KubeVerb;
  group: string;
  /** Plural, with `/<subresource>` appended when there is one. */
  resource: string;
  namespace?: string;
  name?: string;
}

/**
 * Maps a request to RBAC attributes, or undefined for a non-resource path (`/version`, `/healthz`, discovery),
 * which every authenticated user may read (the `system:discovery` and `system:public-info-viewer` roles).
 */
export function requestAttributes(method: string, url: string): RequestAttributes | undefined {
  const u = new URL(url, 'http://x');
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  // `namespaces/<ns>/<resource>…` is namespaced; `namespaces` and `namespaces/<name>[/status|/finalize]` are the
  // Namespace objects themselves.
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, sub] = rest as [string, string | undefined, string | undefined];
  const m = method.toUpperCase();
  const verb: KubeVerb | undefined =
    m === 'GET' || m === 'HEAD' ? (name !== undefined ? 'get' : u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1' ? 'watch' : 'list')
      : m === 'POST' ? 'create'
        : m === 'PUT' ? 'update'
          : m === 'PATCH' ? 'patch'
            : m === 'DELETE' ? (name !== undefined ? 'delete' : 'deletecollection')
              : undefined;
  if (!verb) return undefined;
  return {
    verb, group, resource: sub ? `${plural}/${sub}` : plural,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

/** The first grant that allows the request (RBAC's rule), or undefined. */
export function grantFor(rules: readonly KubeAccess[], a: RequestAttributes): KubeAccess | undefined {
  return rules.find((r) =>
    r.group === a.group && r.resource === a.resource && r.verbs.includes(a.verb)
    && (r.namespace === undefined || r.namespace === a.namespace)
    && (r.names === undefined || (a.name !== undefined && r.names.includes(a.name))));
}

export const describeRequest = (a: RequestAttributes): string =>
  `${a.verb} ${a.group ? `${a.resource}.${a.group}` : a.resource}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` in namespace ${a.namespace}` : ' (cluster-wide)'}`;

/** Problems of a declaration itself: names on a verb RBAC cannot restrict by name, an empty verb list. */
export function accessProblems(c: ComponentAccess): string[] {
  const out: string[] = [];
  for (const r of c.rules) {
    if (!r.verbs.length) out.push(`${c.component}: ${r.resource}: no verbs`);
    if (r.names) {
      const unnamable = r.verbs.filter((v) => v === 'list' || v === 'watch' || v === 'create' || v === 'deletecollection');
      if (unnamable.length) out.push(`${c.component}: ${r.resource}: ${unnamable.join(', ')} cannot be restricted by name (RBAC ignores resourceNames for them)`);
    }
  }
  return out;
}
