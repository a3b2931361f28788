import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { KubeConfig } from '@kubernetes/client-node';
import { ObjectStore, type KubeObject, type StoredEvent } from './kube-api-server-store.js';
import { jsonPatch, mergePatch, PatchError, type JsonPatchOp } from './kube-api-server-patch.js';
import { parseFieldSelector, parseLabelSelector } from './kube-api-server-selectors.js';

/**
 * A Kubernetes API server FOR TESTS: in-process node:http implementing the REST and watch semantics Strait's
 * member agent and `strait join` use (no kube-apiserver binary can be had on the build machines). Not a product
 * component; it lives in testing/ and is named as what it is.
 *
 * Implemented: CRD registration (creating an apiextensions.k8s.io/v1 CRD serves its group/plural, validates custom
 * resources with ajv against the CRD's openAPIV3Schema and applies its defaults), list and watch with
 * resourceVersion (a watch replays newer events, answers 410 Gone when they were compacted, sends periodic
 * BOOKMARKs, flushes headers at once), create/get/replace/merge-patch/json-patch/delete, 409 on stale writes and
 * existing names, status subresource rules, generation bumped on spec change, finalizers and deletionTimestamp,
 * namespaces (deleting one deletes its objects), label and field selectors, Nodes, Pods, Secrets, ConfigMaps,
 * Services, StatefulSets and coordination.k8s.io Leases. `stop()` and `start()` keep the data, so a test can
 * restart the "API server" on the same port. Not implemented: server-side apply, strategic merge for lists,
 * pagination, admission, RBAC (a bearer token can be required, that is all).
 */

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  statusSubresource: boolean;
  /** Custom resources only: schema validator (applies defaults in place). */
  validate?: ValidateFunction;
}

const BUILTINS: ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, statusSubresource: true },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, statusSubresource: true },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, statusSubresource: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, statusSubresource: false },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, statusSubresource: false },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, statusSubresource: true },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, statusSubresource: false },
  { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true, statusSubresource: true },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, statusSubresource: false },
  { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false, statusSubresource: true },
  // What the install manifests (deploy/) hold besides the above, so they can be applied here (stored, not run).
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, statusSubresource: false },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, statusSubresource: true },
  { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true, statusSubresource: true },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false, statusSubresource: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false, statusSubresource: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true, statusSubresource: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true, statusSubresource: false },
];

const resKey = (group: string, plural: string): string => `${group}/${plural}`;
const CRD_KEY = resKey('apiextensions.k8s.io', 'customresourcedefinitions');
const NS_KEY = resKey('', 'namespaces');

export interface TestKubeApiServerOptions {
  /** Port to listen on (0: a free one; kept across restarts). */
  port?: number;
  /** Events kept for watch replay; older resourceVersions get 410 Gone. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on open watches. */
  bookmarkIntervalMs?: number;
  /** When set, requests must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
}

export interface InjectedFault {
  method?: string;
  /** Substring of the request path (without query). */
  path?: string;
  status: number;
  /** How many matching requests fail (default 1). */
  count?: number;
}

class HttpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 410: 'Expired', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
  500: 'InternalError', 503: 'ServiceUnavailable',
};

interface Route {
  rt: ResourceType;
  ns: string;
  name?: string;
  sub?: string;
}

export class TestKubeApiServer {
  readonly store: ObjectStore;
  private readonly types = new Map<string, ResourceType>();
  private server: http.Server | undefined;
  private port: number;
  private readonly watches = new Set<http.ServerResponse>();
  private faults: (InjectedFault & { left: number })[] = [];
  private readonly bookmarkIntervalMs: number;
  /** Requests served, by `METHOD resource` (for tests that check what a client did). */
  readonly requests: string[] = [];

  constructor(private readonly opts: TestKubeApiServerOptions = {}) {
    this.store = new ObjectStore(opts.historyLimit ?? 10_000);
    this.port = opts.port ?? 0;
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 5_000;
    for (const t of BUILTINS) this.types.set(resKey(t.group, t.plural), t);
    for (const ns of ['default', 'kube-system', 'kube-public']) {
      this.store.create(NS_KEY, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, spec: {}, status: { phase: 'Active' } });
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<this> {
    if (this.server) return this;
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops serving (open watches and connections are cut) but keeps every object: `start()` brings it back. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const w of this.watches) w.destroy();
    this.watches.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Drops the event history: every watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** Ends all open watches (clients re-watch from their last resourceVersion). */
  closeWatches(): void {
    for (const w of this.watches) w.end();
    this.watches.clear();
  }

  /** Makes the next `count` matching requests fail with `status` (e.g. 409 for a write, 500 for a list). */
  injectFault(f: InjectedFault): void {
    this.faults.push({ ...f, left: f.count ?? 1 });
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeconfigYaml());
    return kc;
  }

  kubeconfigYaml(): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses plain HTTP unless insecure-skip-tls-verify is set.
      clusters: [{ name: 'test', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: { token: this.opts.token ?? 'test-token' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    });
  }

  writeKubeconfig(path: string): string {
    writeFileSync(path, this.kubeconfigYaml(), { mode: 0o600 });
    return path;
  }

  // ------------------------------------------------------------------------------------------------ direct access
  /** Test helpers acting as the API server's own clients would (no HTTP, no validation). */
  get(group: string, plural: string, name: string, ns = ''): KubeObject | undefined {
    return this.store.get(resKey(group, plural), ns, name);
  }

  list(group: string, plural: string, ns?: string): KubeObject[] {
    return this.store.list(resKey(group, plural), ns);
  }

  // ------------------------------------------------------------------------------------------------ HTTP
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        this.dispatch(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', e instanceof Error ? e.message : String(e));
        if (!res.headersSent) this.sendStatus(res, err);
        else res.end();
      }
    });
  }

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      throw new HttpError(401, 'Unauthorized', 'Unauthorized');
    }
    const fault = this.faults.find((f) => f.left > 0 && (!f.method || f.method === method) && (!f.path || url.pathname.includes(f.path)));
    if (fault) {
      fault.left--;
      this.faults = this.faults.filter((f) => f.left > 0);
      throw new HttpError(fault.status, REASONS[fault.status] ?? 'Unknown', `injected fault ${fault.status}`);
    }
    if (url.pathname === '/version') return this.sendJson(res, 200, { major: '1', minor: '34', gitVersion: 'v1.34.0-strait-test-api-server' });
    if (url.pathname === '/healthz' || url.pathname === '/readyz') return this.sendText(res, 200, 'ok');
    const discovery = this.discovery(url.pathname);
    if (discovery) return this.sendJson(res, 200, discovery);

    const route = this.route(url.pathname);
    this.requests.push(`${method} ${route.rt.plural}${route.sub ? `/${route.sub}` : ''}`);
    const params = url.searchParams;
    if (method === 'GET' && !route.name && params.get('watch') === 'true') return this.watch(res, route, params);
    if (method === 'GET' && !route.name) return this.sendJson(res, 200, this.listObjects(route, params));
    if (method === 'POST' && !route.name) return this.sendJson(res, 201, this.create(route, this.parse(body)));
    if (!route.name) throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    if (route.sub && route.sub !== 'status') throw new HttpError(404, 'NotFound', `no subresource ${route.sub}`);
    switch (method) {
      case 'GET':
        return this.sendJson(res, 200, this.mustGet(route));
      case 'PUT':
        return this.sendJson(res, 200, this.replace(route, this.parse(body) as KubeObject));
      case 'PATCH':
        return this.sendJson(res, 200, this.patch(route, this.parse(body), String(req.headers['content-type'] ?? '')));
      case 'DELETE':
        return this.sendJson(res, 200, this.delete(route, body ? this.parse(body) : undefined));
      default:
        throw new HttpError(405, 'MethodNotAllowed', `${method} not allowed`);
    }
  }

  private discovery(path: string): unknown {
    if (path === '/api') return { kind: 'APIVersions', versions: ['v1'] };
    if (path === '/apis') {
      const groups = [...new Set([...this.types.values()].filter((t) => t.group).map((t) => `${t.group}/${t.version}`))];
      return {
        kind: 'APIGroupList', apiVersion: 'v1',
        groups: groups.map((gv) => {
          const [name = '', version = ''] = gv.split('/');
          return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
        }),
      };
    }
    const m = path.match(/^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/?$/);
    if (!m) return undefined;
    const group = m[2] ?? '';
    const version = m[1] ?? m[3] ?? '';
    const resources = [...this.types.values()].filter((t) => t.group === group && t.version === version);
    if (!resources.length) return undefined;
    return {
      kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version,
      resources: resources.flatMap((t) => [
        { name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
        ...(t.statusSubresource ? [{ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] }] : []),
      ]),
    };
  }

  private route(path: string): Route {
    const m = path.match(/^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+?)\/?$/);
    if (!m) throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    const group = m[2] ?? '';
    const version = m[1] ?? m[3] ?? '';
    const segs = (m[4] ?? '').split('/').map(decodeURIComponent);
    let ns = '';
    let rest = segs;
    if (segs[0] === 'namespaces' && segs.length >= 3 && !(segs.length === 3 && (segs[2] === 'status' || segs[2] === 'finalize'))) {
      ns = segs[1] ?? '';
      rest = segs.slice(2);
    }
    const rt = this.types.get(resKey(group, rest[0] ?? ''));
    if (!rt || rt.version !== version) throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    if (rt.namespaced !== (ns !== '') && !(rt.namespaced && !ns && rest.length === 1)) {
      throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    }
    return { rt, ns, ...(rest[1] !== undefined ? { name: rest[1] } : {}), ...(rest[2] !== undefined ? { sub: rest[2] } : {}) };
  }

  private parse(body: string): KubeObject {
    try {
      return JSON.parse(body) as KubeObject;
    } catch {
      throw new HttpError(400, 'BadRequest', 'the request body is not JSON');
    }
  }

  // ------------------------------------------------------------------------------------------------ verbs
  private listObjects(route: Route, params: URLSearchParams): unknown {
    const key = resKey(route.rt.group, route.rt.plural);
    const labels = parseLabelSelector(params.get('labelSelector'));
    const fields = parseFieldSelector(params.get('fieldSelector'));
    const items = this.store
      .list(key, route.rt.namespaced && route.ns ? route.ns : undefined)
      .filter((o) => labels(o.metadata.labels) && fields(o as Record<string, unknown>));
    return {
      apiVersion: this.apiVersion(route.rt), kind: `${route.rt.kind}List`,
      metadata: { resourceVersion: String(this.store.rv) }, items,
    };
  }

  private mustGet(route: Route): KubeObject {
    const obj = this.store.get(resKey(route.rt.group, route.rt.plural), route.ns, route.name ?? '');
    if (!obj) throw this.notFound(route);
    return obj;
  }

  private notFound(route: Route): HttpError {
    const gr = route.rt.group ? `${route.rt.plural}.${route.rt.group}` : route.rt.plural;
    return new HttpError(404, 'NotFound', `${gr} "${route.name}" not found`, { name: route.name, group: route.rt.group, kind: route.rt.plural });
  }

  private create(route: Route, obj: KubeObject): KubeObject {
    if (route.sub) throw new HttpError(405, 'MethodNotAllowed', 'create on a subresource');
    if (!obj || typeof obj !== 'object' || !obj.metadata) throw new HttpError(400, 'BadRequest', 'metadata is required');
    const rt = route.rt;
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    const name = obj.metadata.name;
    if (!name) throw new HttpError(422, 'Invalid', `${rt.kind} "": metadata.name: Required value`);
    if (rt.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== route.ns) throw new HttpError(400, 'BadRequest', 'the namespace of the object does not match the namespace of the request');
      if (!this.store.get(NS_KEY, '', route.ns)) throw new HttpError(404, 'NotFound', `namespaces "${route.ns}" not found`, { name: route.ns, kind: 'namespaces' });
      const nsObj = this.store.get(NS_KEY, '', route.ns);
      if (nsObj?.metadata.deletionTimestamp) throw new HttpError(403, 'Forbidden', `namespace ${route.ns} is being terminated`);
    }
    const key = resKey(rt.group, rt.plural);
    if (this.store.get(key, route.ns, name)) {
      const gr = rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
      throw new HttpError(409, 'AlreadyExists', `${gr} "${name}" already exists`, { name, group: rt.group, kind: rt.plural });
    }
    obj.apiVersion = this.apiVersion(rt);
    obj.kind = rt.kind;
    if (rt.kind === 'Secret') stringDataToData(obj);
    delete obj.metadata.resourceVersion;
    delete obj.metadata.deletionTimestamp;
    if (key === CRD_KEY) this.checkCrd(obj);
    this.validate(rt, obj);
    if (key === NS_KEY) obj.status = { phase: 'Active' };
    const created = this.store.create(key, rt.namespaced ? route.ns : '', obj);
    if (key === CRD_KEY) return this.register(created);
    return created;
  }

  private replace(route: Route, obj: KubeObject): KubeObject {
    if (!obj?.metadata) throw new HttpError(400, 'BadRequest', 'metadata is required');
    if (obj.metadata.name && obj.metadata.name !== route.name) throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    const cur = this.mustGet(route);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw this.conflict(route);
    return this.write(route, cur, obj);
  }

  private patch(route: Route, patch: unknown, contentType: string): KubeObject {
    const cur = this.mustGet(route);
    let next: KubeObject;
    try {
      if (contentType.startsWith('application/json-patch+json')) next = jsonPatch(cur, patch as JsonPatchOp[]) as KubeObject;
      else if (contentType.startsWith('application/merge-patch+json') || contentType.startsWith('application/strategic-merge-patch+json')) {
        next = mergePatch(cur, patch) as KubeObject;
      } else throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json (got ${contentType})`);
    } catch (e) {
      if (e instanceof PatchError) throw new HttpError(422, 'Invalid', e.message);
      throw e;
    }
    if (!next?.metadata) throw new HttpError(422, 'Invalid', 'metadata may not be removed');
    // A patch that names a resourceVersion is a precondition (optimistic concurrency), as in Kubernetes.
    const wanted = (patch as KubeObject | undefined)?.metadata?.resourceVersion;
    if (!Array.isArray(patch) && wanted && wanted !== cur.metadata.resourceVersion) throw this.conflict(route);
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.write(route, cur, next);
  }

  /** Shared by PUT and PATCH: status subresource rules, immutable metadata, generation, finalizer completion. */
  private write(route: Route, cur: KubeObject, obj: KubeObject): KubeObject {
    const rt = route.rt;
    const key = resKey(rt.group, rt.plural);
    let next: KubeObject;
    if (route.sub === 'status') {
      if (!rt.statusSubresource) throw new HttpError(404, 'NotFound', `${rt.plural} has no status subresource`);
      next = { ...cur, status: obj.status };
      if (obj.status === undefined) delete next.status;
    } else {
      next = { ...obj, metadata: { ...obj.metadata } };
      if (rt.statusSubresource) {
        if (cur.status === undefined) delete next.status;
        else next.status = cur.status;
      }
      const keep = ['uid', 'creationTimestamp', 'generation', 'namespace', 'name', 'deletionTimestamp'] as const;
      for (const k of keep) {
        if (cur.metadata[k] === undefined) delete next.metadata[k];
        else (next.metadata as Record<string, unknown>)[k] = cur.metadata[k];
      }
      if (specOf(cur) !== specOf(next)) next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
    }
    next.apiVersion = this.apiVersion(rt);
    next.kind = rt.kind;
    if (rt.kind === 'Secret') stringDataToData(next);
    if (key === CRD_KEY) this.checkCrd(next);
    this.validate(rt, next);
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers?.length)) {
      const gone = this.store.remove(key, route.ns, route.name ?? '');
      if (key === CRD_KEY && gone) this.unregister(gone);
      return gone ?? next;
    }
    const stored = this.store.update(key, route.ns, next);
    if (key === CRD_KEY) return this.register(stored);
    return stored;
  }

  private delete(route: Route, options: KubeObject | undefined): unknown {
    const rt = route.rt;
    const key = resKey(rt.group, rt.plural);
    const cur = this.mustGet(route);
    const pre = (options as { preconditions?: { resourceVersion?: string; uid?: string } } | undefined)?.preconditions;
    if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) throw this.conflict(route);
    if (pre?.uid && pre.uid !== cur.metadata.uid) throw this.conflict(route);
    if (cur.metadata.finalizers?.length) {
      if (cur.metadata.deletionTimestamp) return cur;
      cur.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      return this.store.update(key, route.ns, cur);
    }
    if (key === NS_KEY) {
      for (const t of this.types.values()) {
        if (!t.namespaced) continue;
        const k = resKey(t.group, t.plural);
        for (const o of this.store.list(k, route.name)) this.store.remove(k, route.name ?? '', o.metadata.name ?? '');
      }
    }
    const gone = this.store.remove(key, route.ns, route.name ?? '');
    if (key === CRD_KEY && gone) this.unregister(gone);
    return gone;
  }

  private conflict(route: Route): HttpError {
    const gr = route.rt.group ? `${route.rt.plural}.${route.rt.group}` : route.rt.plural;
    return new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${gr} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`, { name: route.name, group: route.rt.group, kind: route.rt.plural });
  }

  // ------------------------------------------------------------------------------------------------ watch
  private watch(res: http.ServerResponse, route: Route, params: URLSearchParams): void {
    const key = resKey(route.rt.group, route.rt.plural);
    const nsFilter = route.rt.namespaced && route.ns ? route.ns : undefined;
    const labels = parseLabelSelector(params.get('labelSelector'));
    const fields = parseFieldSelector(params.get('fieldSelector'));
    const rvParam = params.get('resourceVersion') ?? '';
    const since = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (since !== undefined && !Number.isFinite(since)) throw new HttpError(400, 'BadRequest', `bad resourceVersion ${rvParam}`);
    if (since !== undefined && since < this.store.compactedThrough) {
      throw new HttpError(410, 'Expired', `too old resource version: ${since} (${this.store.compactedThrough + 1})`);
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    this.watches.add(res);
    const matches = (e: StoredEvent): boolean =>
      e.resource === key && (nsFilter === undefined || e.namespace === nsFilter) &&
      labels(e.object.metadata.labels) && fields(e.object as Record<string, unknown>);
    const send = (type: string, object: unknown): void => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    if (since === undefined) {
      for (const o of this.store.list(key, nsFilter)) if (labels(o.metadata.labels) && fields(o as Record<string, unknown>)) send('ADDED', o);
    } else {
      for (const e of this.store.history) if (e.rv > since && matches(e)) send(e.type, e.object);
    }
    const unsubscribe = this.store.subscribe((e) => {
      if (matches(e)) send(e.type, e.object);
    });
    const bookmark = setInterval(() => {
      send('BOOKMARK', { apiVersion: this.apiVersion(route.rt), kind: route.rt.kind, metadata: { resourceVersion: String(this.store.rv) } });
    }, this.bookmarkIntervalMs);
    bookmark.unref();
    const timeout = Number(params.get('timeoutSeconds') ?? '0');
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    timer?.unref();
    const cleanup = (): void => {
      unsubscribe();
      clearInterval(bookmark);
      if (timer) clearTimeout(timer);
      this.watches.delete(res);
    };
    // Only the response's 'close' means the client went away (the request's fires once its body is read).
    res.on('close', cleanup);
  }

  // ------------------------------------------------------------------------------------------------ CRDs
  private checkCrd(obj: KubeObject): void {
    const spec = obj.spec as { group?: string; names?: { plural?: string; kind?: string }; versions?: unknown[]; scope?: string } | undefined;
    if (!spec?.group || !spec.names?.plural || !spec.names.kind || !spec.versions?.length) {
      throw new HttpError(422, 'Invalid', 'CustomResourceDefinition needs spec.group, spec.names.plural, spec.names.kind and spec.versions');
    }
    if (obj.metadata.name !== `${spec.names.plural}.${spec.group}`) {
      throw new HttpError(422, 'Invalid', `metadata.name must be spec.names.plural+"."+spec.group (${spec.names.plural}.${spec.group})`);
    }
  }

  /** Serves (or re-serves, after an update) the CRD's resource, and marks it Established. */
  private register(crd: KubeObject): KubeObject {
    const spec = crd.spec as {
      group: string; scope: string; names: { plural: string; kind: string };
      versions: { name: string; served?: boolean; storage?: boolean; schema?: { openAPIV3Schema?: object }; subresources?: { status?: object } }[];
    };
    const version = spec.versions.find((v) => v.storage) ?? spec.versions[0];
    if (!version) return crd;
    let validate: ValidateFunction | undefined;
    if (version.schema?.openAPIV3Schema) {
      try {
        validate = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateFormats: false }).compile(version.schema.openAPIV3Schema);
      } catch (e) {
        throw new HttpError(422, 'Invalid', `spec.versions[].schema.openAPIV3Schema: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.types.set(resKey(spec.group, spec.names.plural), {
      group: spec.group, version: version.name, plural: spec.names.plural, kind: spec.names.kind,
      namespaced: spec.scope === 'Namespaced', statusSubresource: version.subresources?.status !== undefined,
      ...(validate ? { validate } : {}),
    });
    const established = (crd.status as { conditions?: { type: string }[] } | undefined)?.conditions?.some((c) => c.type === 'Established');
    if (established) return crd;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    crd.status = {
      acceptedNames: spec.names,
      storedVersions: [version.name],
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: now },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: now },
      ],
    };
    return this.store.update(CRD_KEY, '', crd);
  }

  private unregister(crd: KubeObject): void {
    const spec = crd.spec as { group: string; names: { plural: string } };
    const key = resKey(spec.group, spec.names.plural);
    this.store.dropResource(key);
    this.types.delete(key);
  }

  private validate(rt: ResourceType, obj: KubeObject): void {
    if (!rt.validate) return;
    // Validate everything but metadata (the CRD schema leaves it opaque); defaults are applied in place.
    const { metadata, ...rest } = obj;
    const candidate = { ...rest, metadata: {} };
    if (!rt.validate(candidate)) {
      const causes = (rt.validate.errors ?? []).map((e) => ({ reason: 'FieldValueInvalid', field: e.instancePath.replace(/^\//, '').replace(/\//g, '.'), message: e.message ?? 'invalid' }));
      throw new HttpError(422, 'Invalid', `${rt.kind}.${rt.group} "${metadata.name ?? ''}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, { name: metadata.name, group: rt.group, kind: rt.kind, causes });
    }
    Object.assign(obj, candidate, { metadata });
  }

  // ------------------------------------------------------------------------------------------------ answers
  private apiVersion(rt: ResourceType): string {
    return rt.group ? `${rt.group}/${rt.version}` : rt.version;
  }

  private sendJson(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private sendText(res: http.ServerResponse, code: number, text: string): void {
    res.writeHead(code, { 'Content-Type': 'text/plain' });
    res.end(text);
  }

  private sendStatus(res: http.ServerResponse, e: HttpError): void {
    this.sendJson(res, e.code, {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code,
      ...(e.details ? { details: e.details } : {}),
    });
  }
}

/** As the API server does: `stringData` is a write-only convenience merged into base64 `data`. */
function stringDataToData(obj: KubeObject): void {
  const sd = obj.stringData as Record<string, string> | undefined;
  if (!sd) return;
  const data = { ...((obj.data as Record<string, string> | undefined) ?? {}) };
  for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(v, 'utf8').toString('base64');
  obj.data = data;
  delete obj.stringData;
}

function specOf(o: KubeObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
}

/** Starts a test API server (see TestKubeApiServer). */
export async function startTestKubeApiServer(opts: TestKubeApiServerOptions = {}): Promise<TestKubeApiServer> {
  return new TestKubeApiServer(opts).start();
}

export type { KubeObject } from './kube-api-server-store.js';
