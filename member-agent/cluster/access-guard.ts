import * as k8s from '@kubernetes/client-node';
import { StraitError } from '../../api/index.js';
import { describeRequest, grantFor, requestAttributes, type ComponentAccess, type KubeAccess, type RequestAttributes } from './kube-access.js';

/** A request the guard refused or let through, as the tests that prove least privilege read it. */
export interface AccessUse {
  component: string;
  request: RequestAttributes;
  /** The grant that allowed it; undefined when refused. */
  grant?: KubeAccess;
}

/**
 * Every request checked in this process, by component. Tests that drive a component read it to prove that each
 * declared grant was used and nothing was refused; production ignores it (a Set per component, bounded by the
 * number of distinct grants and refusals, so it cannot grow with traffic).
 */
const uses = new Map<string, Map<string, AccessUse>>();

function record(component: string, request: RequestAttributes, grant: KubeAccess | undefined): void {
  let m = uses.get(component);
  if (!m) uses.set(component, (m = new Map()));
  // Keyed by grant and verb (or by the refused request), so repeated calls add nothing.
  const key = grant ? `ok ${grant.group}/${grant.resource} ${grant.namespace ?? ''} ${request.verb}` : `refused ${describeRequest(request)}`;
  if (!m.has(key)) m.set(key, { component, request, ...(grant ? { grant } : {}) });
}

/** Uses recorded so far for a component (tests). */
export function recordedAccess(component: string): AccessUse[] {
  return [...(uses.get(component)?.values() ?? [])];
}

/** The error RBAC's 403 becomes through KubeClient, so callers see exactly what a cluster would answer. */
function refusal(access: ComponentAccess, a: RequestAttributes): StraitError {
  return new StraitError(
    'KUBE_API_ERROR',
    `Kubernetes API server refused to ${describeRequest(a)} (403): ${access.component} does not declare it (member-agent/cluster/component-access.ts), so its RBAC does not grant it`,
    { status: 403, component: access.component },
  );
}

/** Checks one request against a component's declared access; throws the 403 refusal when it is not covered. */
export function checkAccess(access: ComponentAccess, method: string, url: string): void {
  const a = requestAttributes(method, url);
  if (!a) return;
  const grant = grantFor(access.rules, a);
  record(access.component, a, grant);
  if (!grant) throw refusal(access, a);
}

/**
 * A KubeConfig whose every request is checked against a component's declared access before it is sent: API
 * clients made from it (`makeApiClient`) pass each request through `applySecurityAuthentication`, and the informers
 * of informer-set.ts watch through `accessCheckedWatch`.
 */
export class AccessCheckedKubeConfig extends k8s.KubeConfig {
  constructor(base: k8s.KubeConfig, readonly access: ComponentAccess) {
    super();
    this.loadFromOptions({ clusters: base.clusters, users: base.users, contexts: base.contexts, currentContext: base.currentContext });
  }

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    checkAccess(this.access, context.getHttpMethod(), context.getUrl());
    await super.applySecurityAuthentication(context);
  }
}

/** Wraps `kc` for a component (idempotent for the same access). */
export function accessChecked(kc: k8s.KubeConfig, access: ComponentAccess): AccessCheckedKubeConfig {
  return kc instanceof AccessCheckedKubeConfig && kc.access.component === access.component ? kc : new AccessCheckedKubeConfig(kc, access);
}

/** A Watch that checks the watch request like any other; a refusal ends the watch with a 403, as the server would. */
export function accessCheckedWatch(kc: k8s.KubeConfig): k8s.Watch {
  if (!(kc instanceof AccessCheckedKubeConfig)) return new k8s.Watch(kc);
  const access = kc.access;
  return new (class extends k8s.Watch {
    override async watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
      try {
        checkAccess(access, 'GET', `${path}?watch=true`);
      } catch (e) {
        const err = Object.assign(new Error((e as Error).message), { statusCode: 403 });
        setImmediate(() => done(err));
        return new AbortController();
      }
      return super.watch(path, queryParams, callback, done);
    }
  })(kc);
}

const grantKey = (g: KubeAccess): string => `${g.group}|${g.resource}|${g.namespace ?? ''}|${(g.names ?? []).join(',')}`;

/**
 * How a component's recorded use compares with its declaration (tests): `unused` lists each declared verb no
 * request needed (`verb resource.group`), `refused` each request the declaration did not cover. Least privilege
 * holds when both are empty after a test drove the component through everything it does.
 */
export function accessReport(access: ComponentAccess): { unused: string[]; refused: string[] } {
  const used = new Set(recordedAccess(access.component).flatMap((u) => (u.grant ? [`${grantKey(u.grant)} ${u.request.verb}`] : [])));
  const unused = access.rules.flatMap((r) => r.verbs.filter((v) => !used.has(`${grantKey(r)} ${v}`)).map((v) => `${v} ${r.group ? `${r.resource}.${r.group}` : r.resource}`));
  const refused = recordedAccess(access.component).filter((u) => !u.grant).map((u) => describeRequest(u.request));
  return { unused, refused };
}
