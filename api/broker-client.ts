import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { ERROR_CATALOG, type ErrorCode } from './error-catalog.js';
import { StraitError } from './strait-error.js';
import type {
  AddressBatchLeaseRequest,
  AddressLease,
  AddressLeaseRequest,
  Block,
  BlockBatchLeaseRequest,
  BlockLeaseRequest,
  BrokerEgressClusterPolicy,
  BrokerEgressGateway,
  BrokerEgressPolicy,
  Cluster,
  ClusterJoined,
  ClusterJoinRequest,
  ClusterPatch,
  EgressClusterPolicyPut,
  EgressGatewayPut,
  EgressPolicyPut,
  Gateway,
  GatewayPut,
  IPPool,
  IPPoolCreate,
  IPPoolPut,
  List,
  ReservedIP,
  ReservedIPPut,
  Subnet,
  SubnetCreate,
  SubnetPut,
  Token,
  TokenCreated,
  TokenCreateRequest,
  WatchEvent,
} from './broker-wire.js';

export interface BrokerClientOptions {
  /**
   * e.g. `https://broker.example:8443`; several broker replicas as `URL,URL,…`: a request that cannot reach one
   * (connection refused, reset, timeout, or the replica answers UNAVAILABLE) goes on to the next.
   */
  baseUrl: string;
  /** admin token, join token (only for `joinCluster`) or cluster credential */
  token?: string;
  /** PEM of the CA that signed the broker's certificate (pinning; see the join token's caHash). */
  caPem?: string;
  /** per-request timeout for non-watch calls (default 30 s) */
  timeoutMs?: number;
  /**
   * How often a request is retried (default 4, after 0.1, 0.3, 0.9, 2 s) when it was refused before anything changed
   * (UNAVAILABLE) or its outcome is unknown (OUTCOME_UNKNOWN, lost connection). Writes are retried with the same
   * Idempotency-Key, so a write that happened answers what it answered then instead of happening twice. With
   * several URLs, each retry round tries every URL in turn (at once), then waits.
   */
  retries?: number;
}

/** The broker URLs of a `--broker URL,URL,…` value, without trailing slashes; empty entries are dropped. */
export function brokerUrls(list: string): string[] {
  return list.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
}

/** Errors of a connection that never reached the broker: nothing was sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOENT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Typed client for the broker REST API v1. Every non-2xx answer is thrown as a StraitError carrying the
 * server's catalogued code; a broker that cannot be reached is `UNAVAILABLE`. Responses are trusted (not
 * re-validated) to keep the hot path cheap.
 */
export class BrokerClient {
  /** Every broker URL this client may use, in order. */
  readonly urls: readonly string[];
  token: string | undefined;
  private readonly parsed: URL[];
  /** Index of the URL in use: requests stay on one replica until it fails. */
  private at = 0;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;

  constructor(opts: BrokerClientOptions) {
    this.urls = brokerUrls(opts.baseUrl);
    if (this.urls.length === 0) throw new StraitError('INVALID_ARGUMENT', 'no broker URL given');
    this.parsed = this.urls.map((u) => {
      try {
        return new URL(u);
      } catch {
        throw new StraitError('INVALID_ARGUMENT', `not a broker URL: ${JSON.stringify(u)}`);
      }
    });
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retries = opts.retries ?? 4;
    // One agent for all replicas (it pools sockets per host:port); they share the CA.
    this.agent =
      this.parsed[0]!.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...(opts.caPem ? { ca: opts.caPem } : {}) })
        : new http.Agent({ keepAlive: true });
  }

  /** The broker URL in use now. */
  get baseUrl(): string {
    return this.urls[this.at]!;
  }

  /**
   * Moves on to the next URL after `failed` (the index the failing call used): concurrent calls that failed on the
   * same replica move once, not once each.
   */
  private failover(failed: number): void {
    if (this.urls.length > 1 && this.at === failed) this.at = (failed + 1) % this.urls.length;
  }

  /**
   * Trust on first use, pinned: fetches the broker CA from `GET /v1/ca.crt` without verifying the connection, and
   * returns its PEM only if its SHA-256 (over the DER bytes, `sha256:<hex>`) equals `caHash` from the join token.
   * Pass the PEM as `caPem` to every later client. Throws CA_PIN_MISMATCH otherwise.
   */
  static async fetchPinnedCa(baseUrl: string, caHash: string, timeoutMs = 30_000): Promise<string> {
    // Replicas share one CA: the first one that answers will do.
    const urls = brokerUrls(baseUrl);
    for (const [i, u] of urls.entries()) {
      try {
        return await BrokerClient.fetchPinnedCaOf(u, caHash, timeoutMs);
      } catch (e) {
        if (i === urls.length - 1 || !(e instanceof StraitError) || e.code !== 'UNAVAILABLE') throw e;
      }
    }
    throw new StraitError('INVALID_ARGUMENT', 'no broker URL given');
  }

  private static fetchPinnedCaOf(baseUrl: string, caHash: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const url = new URL(`${baseUrl}/v1/ca.crt`);
      const req = https.get(url, { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
        readBody(res).then((pem) => {
          if ((res.statusCode ?? 500) >= 300) return reject(toError(res.statusCode ?? 500, pem));
          let got: string;
          try {
            got = `sha256:${createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')}`;
          } catch {
            return reject(new StraitError('CA_PIN_MISMATCH', `broker ${baseUrl} served something that is not a certificate at /v1/ca.crt`));
          }
          if (got !== caHash.toLowerCase()) {
            return reject(new StraitError('CA_PIN_MISMATCH', `broker ${baseUrl} CA hash ${got} does not match the pinned ${caHash}`, { expected: caHash, got }));
          }
          resolve(pem);
        }, reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(e instanceof StraitError ? e : unavailable(baseUrl, e)));
    });
  }

  /** Closes idle keep-alive sockets (call when done so the process can exit). */
  close(): void {
    this.agent.destroy();
  }

  // ------------------------------------------------------------------- tokens (admin)
  /** Not retried when its outcome is unknown (the broker keeps no token secret to answer a retry with). */
  createToken(req: TokenCreateRequest = {}): Promise<TokenCreated> {
    return this.request('POST', '/v1/tokens', req, undefined, { retryUnknown: false });
  }
  listTokens(): Promise<List<Token>> {
    return this.request('GET', '/v1/tokens');
  }
  revokeToken(id: string): Promise<void> {
    return this.request('DELETE', `/v1/tokens/${enc(id)}`);
  }

  // ------------------------------------------------------------------- clusters
  /**
   * Registers a new cluster with a join token (pass it as `joinToken`, or set `token`), or re-joins a registered
   * one when `joinToken` is that cluster's current credential (same id and CIDRs; answers the same credential).
   */
  joinCluster(req: ClusterJoinRequest, joinToken?: string): Promise<ClusterJoined> {
    return this.request('POST', '/v1/clusters', req, joinToken);
  }
  /** New credential for a registered cluster (admin, or the cluster itself); the old one stops working at once. */
  rotateClusterCredential(id: string): Promise<ClusterJoined> {
    return this.request('POST', `/v1/clusters/${enc(id)}/credentials`, {});
  }
  listClusters(): Promise<List<Cluster>> {
    return this.request('GET', '/v1/clusters');
  }
  getCluster(id: string): Promise<Cluster> {
    return this.request('GET', `/v1/clusters/${enc(id)}`);
  }
  patchCluster(id: string, patch: ClusterPatch): Promise<Cluster> {
    return this.request('PATCH', `/v1/clusters/${enc(id)}`, patch);
  }
  removeCluster(id: string): Promise<void> {
    return this.request('DELETE', `/v1/clusters/${enc(id)}`);
  }
  /**
   * Heartbeat. `nodes` / `addressOwners`, when given, must be the COMPLETE sets of the cluster's live node names and
   * live address-lease owners: leases of names missing from them for longer than the broker's grace are returned.
   * Leave them out when unknown (nothing is collected then).
   */
  heartbeat(id: string, opts: { nodes?: string[]; addressOwners?: string[] } = {}): Promise<Cluster> {
    return this.request('PUT', `/v1/clusters/${enc(id)}/heartbeat`, {
      ...(opts.nodes ? { nodes: opts.nodes } : {}),
      ...(opts.addressOwners ? { addressOwners: opts.addressOwners } : {}),
    });
  }

  // ------------------------------------------------------------------- subnets
  createSubnet(req: SubnetCreate): Promise<Subnet> {
    return this.request('POST', '/v1/subnets', req);
  }
  listSubnets(): Promise<List<Subnet>> {
    return this.request('GET', '/v1/subnets');
  }
  getSubnet(name: string): Promise<Subnet> {
    return this.request('GET', `/v1/subnets/${enc(name)}`);
  }
  putSubnet(name: string, req: SubnetPut): Promise<Subnet> {
    return this.request('PUT', `/v1/subnets/${enc(name)}`, req);
  }
  deleteSubnet(name: string): Promise<void> {
    return this.request('DELETE', `/v1/subnets/${enc(name)}`);
  }

  // ------------------------------------------------------------------- pools, blocks, addresses
  createPool(req: IPPoolCreate): Promise<IPPool> {
    return this.request('POST', '/v1/ippools', req);
  }
  /** Pools, optionally only those a cluster owns. */
  listPools(filter: { cluster?: string } = {}): Promise<List<IPPool>> {
    return this.request('GET', `/v1/ippools${query(filter)}`);
  }
  getPool(name: string): Promise<IPPool> {
    return this.request('GET', `/v1/ippools/${enc(name)}`);
  }
  putPool(name: string, req: IPPoolPut): Promise<IPPool> {
    return this.request('PUT', `/v1/ippools/${enc(name)}`, req);
  }
  deletePool(name: string): Promise<void> {
    return this.request('DELETE', `/v1/ippools/${enc(name)}`);
  }
  // ------------------------------------------------------------------- reserved IPs
  listReservedIPs(filter: { cluster?: string } = {}): Promise<List<ReservedIP>> {
    return this.request('GET', `/v1/reservedips${query(filter)}`);
  }
  getReservedIP(name: string): Promise<ReservedIP> {
    return this.request('GET', `/v1/reservedips/${enc(name)}`);
  }
  putReservedIP(name: string, req: ReservedIPPut): Promise<ReservedIP> {
    return this.request('PUT', `/v1/reservedips/${enc(name)}`, req);
  }
  deleteReservedIP(name: string): Promise<void> {
    return this.request('DELETE', `/v1/reservedips/${enc(name)}`);
  }
  /** Leases one block of the pool to a node of a cluster. */
  leaseBlock(pool: string, req: BlockLeaseRequest): Promise<Block> {
    return this.request('POST', `/v1/ippools/${enc(pool)}/blocks`, req);
  }
  /** Leases one block per entry of `nodes` in one atomic step (all or nothing: POOL_EXHAUSTED leases none). */
  leaseBlocks(pool: string, req: BlockBatchLeaseRequest): Promise<List<Block>> {
    return this.request('POST', `/v1/ippools/${enc(pool)}/blocks`, req);
  }
  /** Blocks, optionally only one cluster's or one pool's. */
  listBlocks(filter: { cluster?: string; pool?: string } = {}): Promise<List<Block>> {
    return this.request('GET', `/v1/blocks${query(filter)}`);
  }
  releaseBlock(id: string): Promise<void> {
    return this.request('DELETE', `/v1/blocks/${enc(id)}`);
  }
  /** Leases one address (egress IPs); the same owner gets the same address back. */
  leaseAddress(pool: string, req: AddressLeaseRequest): Promise<AddressLease> {
    return this.request('POST', `/v1/ippools/${enc(pool)}/addresses`, req);
  }
  /**
   * Leases one address per owner (≤ 256) in one atomic step, all or nothing; owners already holding an address of
   * the pool get it back. Items come in the order of `owners`.
   */
  leaseAddresses(pool: string, req: AddressBatchLeaseRequest): Promise<List<AddressLease>> {
    return this.request('POST', `/v1/ippools/${enc(pool)}/addresses`, req);
  }
  listAddresses(filter: { cluster?: string; pool?: string } = {}): Promise<List<AddressLease>> {
    return this.request('GET', `/v1/addresses${query(filter)}`);
  }
  releaseAddress(ip: string): Promise<void> {
    return this.request('DELETE', `/v1/addresses/${enc(ip)}`);
  }

  // ------------------------------------------------------------------- gateways
  putGateway(cluster: string, name: string, req: GatewayPut): Promise<Gateway> {
    return this.request('PUT', `/v1/clusters/${enc(cluster)}/gateways/${enc(name)}`, req);
  }
  getGateway(cluster: string, name: string): Promise<Gateway> {
    return this.request('GET', `/v1/clusters/${enc(cluster)}/gateways/${enc(name)}`);
  }
  deleteGateway(cluster: string, name: string): Promise<void> {
    return this.request('DELETE', `/v1/clusters/${enc(cluster)}/gateways/${enc(name)}`);
  }
  listGateways(filter: { cluster?: string } = {}): Promise<List<Gateway>> {
    return this.request('GET', `/v1/gateways${query(filter)}`);
  }

  // ------------------------------------------------------------------- egress objects (a cluster's own)
  /** Creates or replaces an EgressGateway of a cluster; `body.spec` is the CRD spec. */
  putEgressGateway(cluster: string, name: string, body: EgressGatewayPut): Promise<BrokerEgressGateway> {
    return this.request('PUT', `/v1/clusters/${enc(cluster)}/egressgateways/${enc(name)}`, body);
  }
  getEgressGateway(cluster: string, name: string): Promise<BrokerEgressGateway> {
    return this.request('GET', `/v1/clusters/${enc(cluster)}/egressgateways/${enc(name)}`);
  }
  deleteEgressGateway(cluster: string, name: string): Promise<void> {
    return this.request('DELETE', `/v1/clusters/${enc(cluster)}/egressgateways/${enc(name)}`);
  }
  listEgressGateways(opts: { cluster?: string } = {}): Promise<List<BrokerEgressGateway>> {
    return this.request('GET', `/v1/egressgateways${query(opts)}`);
  }
  putEgressPolicy(cluster: string, namespace: string, name: string, body: EgressPolicyPut): Promise<BrokerEgressPolicy> {
    return this.request('PUT', `/v1/clusters/${enc(cluster)}/egresspolicies/${enc(namespace)}/${enc(name)}`, body);
  }
  getEgressPolicy(cluster: string, namespace: string, name: string): Promise<BrokerEgressPolicy> {
    return this.request('GET', `/v1/clusters/${enc(cluster)}/egresspolicies/${enc(namespace)}/${enc(name)}`);
  }
  deleteEgressPolicy(cluster: string, namespace: string, name: string): Promise<void> {
    return this.request('DELETE', `/v1/clusters/${enc(cluster)}/egresspolicies/${enc(namespace)}/${enc(name)}`);
  }
  listEgressPolicies(opts: { cluster?: string } = {}): Promise<List<BrokerEgressPolicy>> {
    return this.request('GET', `/v1/egresspolicies${query(opts)}`);
  }
  putEgressClusterPolicy(cluster: string, name: string, body: EgressClusterPolicyPut): Promise<BrokerEgressClusterPolicy> {
    return this.request('PUT', `/v1/clusters/${enc(cluster)}/egressclusterpolicies/${enc(name)}`, body);
  }
  getEgressClusterPolicy(cluster: string, name: string): Promise<BrokerEgressClusterPolicy> {
    return this.request('GET', `/v1/clusters/${enc(cluster)}/egressclusterpolicies/${enc(name)}`);
  }
  deleteEgressClusterPolicy(cluster: string, name: string): Promise<void> {
    return this.request('DELETE', `/v1/clusters/${enc(cluster)}/egressclusterpolicies/${enc(name)}`);
  }
  listEgressClusterPolicies(opts: { cluster?: string } = {}): Promise<List<BrokerEgressClusterPolicy>> {
    return this.request('GET', `/v1/egressclusterpolicies${query(opts)}`);
  }

  // ------------------------------------------------------------------- misc
  openapi(): Promise<Record<string, unknown>> {
    return this.request('GET', '/v1/openapi.json');
  }
  health(): Promise<{ status: string }> {
    return this.request('GET', '/healthz');
  }
  ready(): Promise<{ status: string }> {
    return this.request('GET', '/readyz');
  }
  /** Prometheus text exposition of `/metrics`. */
  metrics(): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = this.raw('GET', '/metrics', undefined, undefined, true);
      req.on('error', (e) => reject(e instanceof StraitError ? e : unavailable(this.baseUrl, e)));
      req.on('response', (res) => {
        readBody(res).then((text) => ((res.statusCode ?? 500) >= 300 ? reject(toError(res.statusCode ?? 500, text)) : resolve(text)), reject);
      });
      req.end();
    });
  }

  /**
   * Streams events with resourceVersion > `since` until `signal` aborts (resolves) or the connection ends
   * (resolves too; callers re-watch from the last resourceVersion they saw). A compacted `since` rejects with
   * StraitError `WATCH_EXPIRED` (410): list again and watch from the list's resourceVersion.
   * `onEvent` runs in order, one event at a time; BOOKMARK events carry only a resourceVersion.
   */
  watch(since: string | number, onEvent: (e: WatchEvent) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return resolve();
      const at = this.at;
      const base = this.baseUrl;
      const req = this.raw('GET', `/v1/watch?since=${enc(String(since))}`, undefined, undefined, false);
      const onAbort = (): void => {
        req.destroy();
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (e?: unknown): void => {
        signal?.removeEventListener('abort', onAbort);
        if (e === undefined || signal?.aborted) resolve();
        else {
          // The next watch (from the caller's last resourceVersion) goes to the next replica.
          if (e instanceof StraitError && e.code === 'UNAVAILABLE') this.failover(at);
          reject(e);
        }
      };
      req.on('error', (e) => done(signal?.aborted ? undefined : unavailable(base, e)));
      req.on('response', (res) => {
        if ((res.statusCode ?? 500) >= 300) {
          void readBody(res).then((body) => done(toError(res.statusCode ?? 500, body)), done);
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (e) {
              req.destroy();
              done(e);
              return;
            }
          }
        });
        res.on('end', () => done());
        res.on('error', (e) => done(signal?.aborted ? undefined : unavailable(base, e)));
        res.on('close', () => done());
      });
      req.end();
    });
  }

  /**
   * One JSON request; resolves with the parsed body (undefined for 204). A write carries an Idempotency-Key, one per
   * call and the same on every retry of it. Retried (see `retries`) on UNAVAILABLE, and on OUTCOME_UNKNOWN unless
   * `retryUnknown` is false; what is left after the last retry is thrown as is: UNAVAILABLE means nothing changed,
   * OUTCOME_UNKNOWN that the write may have happened (see docs/api.md, "Outcomes of writes").
   */
  async request<T>(method: string, path: string, body?: unknown, token?: string, opts: { retryUnknown?: boolean; idempotencyKey?: string } = {}): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const key = method === 'GET' ? undefined : (opts.idempotencyKey ?? randomUUID());
    const n = this.urls.length;
    for (let attempt = 0; ; attempt++) {
      const at = this.at;
      try {
        return await this.once<T>(method, path, payload, token, key);
      } catch (e) {
        const unavailable = e instanceof StraitError && e.code === 'UNAVAILABLE';
        const unknown = e instanceof StraitError && e.code === 'OUTCOME_UNKNOWN';
        // A replica that cannot be reached (or lost the answer) is left for the next; the write goes on with the
        // same Idempotency-Key, so another replica answers what this one did if the write happened.
        if (unavailable || unknown) this.failover(at);
        const retry = unavailable || (unknown && opts.retryUnknown !== false);
        if (!retry || attempt >= (this.retries + 1) * n - 1) throw e;
        // Each round tries every replica at once, then backs off.
        const round = Math.floor(attempt / n);
        if ((attempt + 1) % n === 0) await new Promise((r) => setTimeout(r, Math.min(100 * 3 ** round, 2000)));
      }
    }
  }

  private once<T>(method: string, path: string, payload: Buffer | undefined, token: string | undefined, idempotencyKey: string | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const req = this.raw(method, path, payload, token, true, idempotencyKey);
      req.on('error', (e) => reject(this.lost(method, e)));
      req.on('response', (res) => {
        readBody(res).then((text) => {
          const status = res.statusCode ?? 500;
          if (status >= 300) return reject(toError(status, text));
          if (status === 204 || text === '') return resolve(undefined as T);
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new StraitError('INTERNAL', `broker answered ${status} with a body that is not JSON`, { body: text.slice(0, 200) }));
          }
        }, (e: unknown) => reject(this.lost(method, e)));
      });
      req.end(payload);
    });
  }

  /** A request that got no answer: nothing changed if it never connected (or only read), else its outcome is unknown. */
  private lost(method: string, e: unknown): StraitError {
    if (e instanceof StraitError && e.code !== 'UNAVAILABLE') return e;
    const neverSent = NOT_SENT.has((e as { code?: string }).code ?? '');
    if (method === 'GET' || neverSent) return e instanceof StraitError ? e : unavailable(this.baseUrl, e);
    const msg = e instanceof Error ? e.message : String(e);
    return new StraitError('OUTCOME_UNKNOWN', `broker ${this.baseUrl} did not answer a ${method} (${msg}): it may or may not have happened; retry with the same Idempotency-Key`, undefined, { cause: e });
  }

  private raw(method: string, path: string, payload: Buffer | undefined, token: string | undefined, timeout: boolean, idempotencyKey?: string): http.ClientRequest {
    const url = this.parsed[this.at]!;
    const base = this.baseUrl;
    const mod = url.protocol === 'https:' ? https : http;
    const auth = token ?? this.token;
    const req = mod.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      method,
      path: `${url.pathname.replace(/\/+$/, '')}${path}`,
      agent: this.agent,
      headers: {
        accept: method === 'GET' && path.startsWith('/v1/watch') ? 'application/x-ndjson' : 'application/json',
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
    });
    if (timeout) {
      req.setTimeout(this.timeoutMs, () => req.destroy(new StraitError('UNAVAILABLE', `broker ${base} did not answer within ${this.timeoutMs} ms`)));
    }
    return req;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function query(filter: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function unavailable(baseUrl: string, e: unknown): StraitError {
  const msg = e instanceof Error ? e.message : String(e);
  return new StraitError('UNAVAILABLE', `broker ${baseUrl} unreachable: ${msg}`, undefined, { cause: e });
}

/** Maps an error answer to a StraitError with the server's code (INTERNAL if the code is not one we know). */
function toError(status: number, text: string): StraitError {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } };
    const code = body.error?.code;
    if (code && Object.hasOwn(ERROR_CATALOG, code)) {
      return new StraitError(code as ErrorCode, body.error?.message, body.error?.details);
    }
    return new StraitError(status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT', `${status}: ${body.error?.message ?? text.slice(0, 200)}`, { status, code });
  } catch {
    return new StraitError(status === 503 ? 'UNAVAILABLE' : status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT', `broker answered ${status}: ${text.slice(0, 200)}`, { status });
  }
}
