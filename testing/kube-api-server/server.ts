import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiObjects, parseJson, writeOptions, type Route, type WriteOptions } from './api-objects.js';
import { aggregatedDiscovery, legacyDiscovery } from './discovery.js';
import { HttpError, parseAccept, REASONS, sendJson, sendStatus, sendText, wants, type MediaRange } from './http-answers.js';
import { decodeProtobufObject, ProtobufError } from './protobuf-body.js';
import { hashOf, openApiV2Document, openApiV3Documents, openApiV3Index } from './openapi.js';
import { apiVersionOf, NS_KEY, resKey, type ResourceType } from './resource-types.js';
import { parseLabelSelector } from './selectors.js';
import { ObjectStore, type KubeObject, type StoredEvent } from './store.js';
import { asTable, type IncludeObject } from './table.js';

/**
 * A Kubernetes API server FOR TESTS: in-process node:http implementing the REST, watch, discovery and OpenAPI
 * semantics that Strait's agents (through @kubernetes/client-node) and kubectl 1.32 use (no kube-apiserver binary
 * can be had on the build machines). Not a product component; it lives in testing/ and is named as what it is.
 * docs/testing.md lists what it implements and what it does not.
 */

export interface TestKubeApiServerOptions {
  /** Port to listen on (0: a free one; kept across restarts). */
  port?: number;
  /** Events kept for watch replay; older resourceVersions get 410 Gone. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on open watches. */
  bookmarkIntervalMs?: number;
  /** When set, requests must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
  /**
   * Identities by bearer token (instead of `token`): a request without a known token gets 401, and one its user's
   * `authorize` refuses gets the 403 Forbidden Status kube-apiserver's RBAC would give. Requests are counted by user.
   */
  users?: Readonly<Record<string, TestKubeUser>>;
  /**
   * With `users`: who a request without an Authorization header is. kubectl (client-go) sends no bearer token to a
   * plain-http server, so the lab makes its admin the anonymous user (the server listens on loopback only).
   */
  anonymous?: TestKubeUser;
}

/** One identity of the test server (a ServiceAccount, a node, an admin). */
export interface TestKubeUser {
  /** e.g. `system:serviceaccount:strait-system:strait-node-agent`. */
  name: string;
  /** undefined: allowed; a string: why not (becomes the 403 message). Omitted: everything is allowed. */
  authorize?: (method: string, url: string) => string | undefined;
}

export interface InjectedFault {
  method?: string;
  /** Substring of the request path (without query). */
  path?: string;
  status: number;
  /** How many matching requests fail (default 1). */
  count?: number;
}

const TABLE_TYPE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-strait-test-api-server', platform: 'linux/amd64' };

export class TestKubeApiServer {
  readonly store: ObjectStore;
  private readonly objects: ApiObjects;
  private server: http.Server | undefined;
  private port: number;
  private readonly watches = new Set<http.ServerResponse>();
  private faults: (InjectedFault & { left: number })[] = [];
  private readonly bookmarkIntervalMs: number;
  /** Requests served, by `METHOD resource` (for tests that check what a client did). */
  readonly requests: string[] = [];
  /** With `users`: requests answered per user name, and those refused (403) per user name. */
  readonly requestsByUser = new Map<string, { allowed: number; denied: number }>();

  constructor(private readonly opts: TestKubeApiServerOptions = {}) {
    this.store = new ObjectStore(opts.historyLimit ?? 10_000);
    this.objects = new ApiObjects(this.store);
    this.port = opts.port ?? 0;
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 5_000;
    for (const ns of ['default', 'kube-system', 'kube-public']) {
      this.store.create(NS_KEY, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } }, spec: {}, status: { phase: 'Active' } });
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

  /** A kubeconfig for this server (JSON, which is YAML): client-node and kubectl both read it; `token`: whose. */
  kubeconfigYaml(token: string = this.opts.token ?? 'test-token', server: string = this.url): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses plain HTTP unless insecure-skip-tls-verify is set.
      clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test', namespace: 'default' } }],
      'current-context': 'test',
    });
  }

  writeKubeconfig(path: string, token?: string): string {
    writeFileSync(path, this.kubeconfigYaml(token), { mode: 0o600 });
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
        this.dispatch(req, res, Buffer.concat(chunks));
      } catch (e) {
        const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', e instanceof Error ? e.message : String(e));
        if (!res.headersSent) sendStatus(res, err);
        else res.end();
      }
    });
  }

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      throw new HttpError(401, 'Unauthorized', 'Unauthorized');
    }
    if (this.opts.users) this.authorize(req, method, url);
    const fault = this.faults.find((f) => f.left > 0 && (!f.method || f.method === method) && (!f.path || url.pathname.includes(f.path)));
    if (fault) {
      fault.left--;
      this.faults = this.faults.filter((f) => f.left > 0);
      throw new HttpError(fault.status, REASONS[fault.status] ?? 'Unknown', `injected fault ${fault.status}`);
    }
    const accept = parseAccept(req.headers.accept);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/version') return sendJson(res, 200, VERSION);
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return sendText(res, 200, 'ok');
    if (path.startsWith('/openapi/')) return this.openApi(res, path, accept);
    if (method === 'GET' && (path === '/api' || path === '/apis')) {
      const v = wants(accept, 'APIGroupDiscoveryList', 'apidiscovery.k8s.io', ['v2', 'v2beta1']) as 'v2' | 'v2beta1' | undefined;
      if (v) return sendJson(res, 200, aggregatedDiscovery(path, this.served(), v), `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`);
    }
    const discovery = method === 'GET' ? legacyDiscovery(path, this.served()) : undefined;
    if (discovery) return sendJson(res, 200, discovery);

    let contentType = String(req.headers['content-type'] ?? '');
    let body = raw.toString('utf8');
    // kubectl's typed commands (`create namespace|configmap|secret|serviceaccount`) send protobuf.
    if (raw.length && contentType.startsWith('application/vnd.kubernetes.protobuf')) {
      try {
        body = JSON.stringify(decodeProtobufObject(raw));
        contentType = 'application/json';
      } catch (e) {
        if (e instanceof ProtobufError) throw new HttpError(415, 'UnsupportedMediaType', e.message);
        throw e;
      }
    }
    const route = this.route(url.pathname);
    this.requests.push(`${method} ${route.rt.plural}${route.sub ? `/${route.sub}` : ''}`);
    const params = url.searchParams;
    const table = wants(accept, 'Table', 'meta.k8s.io', ['v1', 'v1beta1']) !== undefined;
    const include = (params.get('includeObject') ?? 'Metadata') as IncludeObject;
    const answer = (code: number, obj: KubeObject, opts?: WriteOptions): void => {
      const headers: Record<string, string> = opts?.warnings.length ? { Warning: opts.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {};
      if (table && method === 'GET') return sendJson(res, code, asTable(route.rt, [obj], { include, resourceVersion: obj.metadata.resourceVersion ?? '' }), TABLE_TYPE, headers);
      sendJson(res, code, obj, 'application/json', headers);
    };
    if (method === 'GET' && !route.name && params.get('watch') === 'true') return this.watch(res, route, params, table ? include : undefined);
    if (method === 'GET' && !route.name) return this.sendList(res, route, params, table ? include : undefined);
    if (method === 'POST' && !route.name) {
      const opts = writeOptions(params);
      return answer(201, this.objects.create(route, parseJson(body), opts), opts);
    }
    if (method === 'DELETE' && !route.name) return this.deleteCollection(res, route, params);
    if (!route.name) throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    if (route.sub && route.sub !== 'status') throw new HttpError(404, 'NotFound', `no subresource ${route.sub}`);
    switch (method) {
      case 'GET':
        return answer(200, this.objects.get(route));
      case 'PUT': {
        const opts = writeOptions(params);
        return answer(200, this.objects.replace(route, parseJson(body), opts), opts);
      }
      case 'PATCH': {
        const opts = writeOptions(params);
        const { object, created } = this.objects.patch(route, body, contentType, opts);
        return answer(created ? 201 : 200, object, opts);
      }
      case 'DELETE':
        return answer(200, this.objects.delete(route, body ? (parseJson(body) as unknown as Record<string, unknown>) : undefined, params));
      default:
        throw new HttpError(405, 'MethodNotAllowed', `${method} not allowed`);
    }
  }

  private authorize(req: http.IncomingMessage, method: string, url: URL): void {
    const header = req.headers.authorization;
    const m = /^Bearer (.+)$/.exec(header ?? '');
    const user = header === undefined ? this.opts.anonymous : m ? this.opts.users?.[m[1] ?? ''] : undefined;
    if (!user) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
    const count = this.requestsByUser.get(user.name) ?? { allowed: 0, denied: 0 };
    this.requestsByUser.set(user.name, count);
    const why = user.authorize?.(method, `${url.pathname}${url.search}`);
    if (why !== undefined) {
      count.denied++;
      throw new HttpError(403, 'Forbidden', `User "${user.name}" cannot ${why}`);
    }
    count.allowed++;
  }

  private served(): ResourceType[] {
    return [...this.objects.types.values()];
  }

  private openApi(res: http.ServerResponse, path: string, accept: MediaRange[]): void {
    if (path === '/openapi/v2') {
      // kubectl asks for protobuf only; a JSON client gets the document.
      if (accept.length && !accept.some((m) => m.type === 'application/json' || m.type === '*/*')) {
        throw new HttpError(406, 'NotAcceptable', 'only application/json is served for /openapi/v2');
      }
      return sendJson(res, 200, openApiV2Document(this.served()));
    }
    const docs = openApiV3Documents(this.served());
    if (path === '/openapi/v3') return sendJson(res, 200, openApiV3Index(docs));
    const doc = docs.get(path.slice('/openapi/v3/'.length));
    if (!doc) throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    sendJson(res, 200, doc, 'application/json', { Etag: `"${hashOf(doc)}"` });
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
    const rt = this.objects.typeFor(group, rest[0] ?? '');
    if (!rt || rt.version !== version) throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    if (rt.namespaced !== (ns !== '') && !(rt.namespaced && !ns && rest.length === 1)) {
      throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
    }
    return { rt, ns, ...(rest[1] !== undefined ? { name: rest[1] } : {}), ...(rest[2] !== undefined ? { sub: rest[2] } : {}) };
  }

  private sendList(res: http.ServerResponse, route: Route, params: URLSearchParams, table: IncludeObject | undefined): void {
    const items = this.objects.list(route, params);
    const resourceVersion = String(this.store.rv);
    if (table) return sendJson(res, 200, asTable(route.rt, items, { include: table, resourceVersion }), TABLE_TYPE);
    sendJson(res, 200, { apiVersion: apiVersionOf(route.rt), kind: `${route.rt.kind}List`, metadata: { resourceVersion }, items });
  }

  private deleteCollection(res: http.ServerResponse, route: Route, params: URLSearchParams): void {
    for (const o of this.objects.list(route, params)) {
      const one = { ...route, ns: o.metadata.namespace ?? '', name: o.metadata.name ?? '' };
      if (this.store.get(resKey(route.rt.group, route.rt.plural), one.ns, one.name)) this.objects.delete(one, undefined, params);
    }
    sendJson(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
  }

  // ------------------------------------------------------------------------------------------------ watch
  private watch(res: http.ServerResponse, route: Route, params: URLSearchParams, table: IncludeObject | undefined): void {
    const key = resKey(route.rt.group, route.rt.plural);
    const nsFilter = route.rt.namespaced && route.ns ? route.ns : undefined;
    const labels = parseLabelSelector(params.get('labelSelector'));
    const fields = this.objects.fieldSelector(params.get('fieldSelector'));
    const rvParam = params.get('resourceVersion') ?? '';
    const since = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (since !== undefined && !Number.isFinite(since)) throw new HttpError(400, 'BadRequest', `bad resourceVersion ${rvParam}`);
    if (since !== undefined && since < this.store.compactedThrough) {
      throw new HttpError(410, 'Expired', `too old resource version: ${since} (${this.store.compactedThrough + 1})`);
    }
    res.writeHead(200, { 'Content-Type': table ? TABLE_TYPE : 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    this.watches.add(res);
    const matches = (e: StoredEvent): boolean =>
      e.resource === key && (nsFilter === undefined || e.namespace === nsFilter) &&
      labels(e.object.metadata.labels) && fields(e.object as Record<string, unknown>);
    const send = (type: string, object: KubeObject): void => {
      if (res.writableEnded || res.destroyed) return;
      const out = table ? asTable(route.rt, [object], { include: table, resourceVersion: object.metadata.resourceVersion ?? '' }) : object;
      res.write(`${JSON.stringify({ type, object: out })}\n`);
    };
    if (since === undefined) {
      for (const o of this.store.list(key, nsFilter)) if (labels(o.metadata.labels) && fields(o as Record<string, unknown>)) send('ADDED', o);
    } else {
      for (const e of this.store.history) if (e.rv > since && matches(e)) send(e.type, e.object);
    }
    const unsubscribe = this.store.subscribe((e) => {
      if (matches(e)) send(e.type, e.object);
    });
    // client-node never asks for bookmarks yet needs traffic (2.x aborts a silent watch after 30 s); a Table
    // watch (kubectl get -w) gets them only when it asks, since kubectl would print an empty row for one.
    const bookmarks = !table || params.get('allowWatchBookmarks') === 'true';
    const bookmark = bookmarks
      ? setInterval(() => {
        const rv = String(this.store.rv);
        const obj = table ? { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: rv }, rows: [] } : { apiVersion: apiVersionOf(route.rt), kind: route.rt.kind, metadata: { resourceVersion: rv } };
        if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type: 'BOOKMARK', object: obj })}\n`);
      }, this.bookmarkIntervalMs)
      : undefined;
    bookmark?.unref();
    const timeout = Number(params.get('timeoutSeconds') ?? '0');
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    timer?.unref();
    const cleanup = (): void => {
      unsubscribe();
      if (bookmark) clearInterval(bookmark);
      if (timer) clearTimeout(timer);
      this.watches.delete(res);
    };
    // Only the response's 'close' means the client went away (the request's fires once its body is read).
    res.on('close', cleanup);
  }
}

/** Starts a test API server (see TestKubeApiServer). */
export async function startTestKubeApiServer(opts: TestKubeApiServerOptions = {}): Promise<TestKubeApiServer> {
  return new TestKubeApiServer(opts).start();
}

export type { KubeObject } from './store.js';
