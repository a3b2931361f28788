import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  StraitError,
  type AddressLease,
  type Block,
  type BrokerEgressClusterPolicy,
  type BrokerEgressGateway,
  type BrokerEgressPolicy,
  type Cluster,
  type Gateway,
  type IPPool,
  type Kind,
  type List,
  type Subnet,
  type Token,
} from '../api/index.js';
import { defaultBlockSize, MAX_POOL_INDEX_BITS, parseCidrRange, poolMeta, rangeEntry, rangesOverlap } from './cidr-range.js';
import { BrokerKeys, KEY } from './store/keys.js';
import { BROKER_LUA_DIR, defineScripts, readLuaScript, type LuaScript, type ScriptCall } from './store/script-loader.js';
import { objectOf, scriptError, type Reply } from './store/script-errors.js';

type ScriptName = 'put' | 'del' | 'createRanged' | 'join' | 'rotate' | 'leaseBlock' | 'releaseBlock' | 'leaseAddress' | 'releaseAddress' | 'compact' | 'heartbeat' | 'ownerGc' | 'leaseBlocks' | 'leaseAddresses';

/**
 * An Idempotency-Key as the store records it: `key` already scoped to the caller (admin, cluster/<id>, join/<hash>),
 * `fingerprint` a hash of the request (method, path, body), so a key reused for another request is refused.
 */
export interface Idem {
  key: string;
  fingerprint: string;
}

/** How long the reply of a write is kept under its Idempotency-Key (retries must come within it). */
/** Script of each store operation, a file of `store/lua/`. */
const SCRIPT_FILES: Record<ScriptName, string> = {
  put: 'put',
  del: 'delete',
  createRanged: 'create-ranged',
  join: 'join',
  rotate: 'rotate',
  leaseBlock: 'lease-block',
  leaseBlocks: 'lease-blocks',
  leaseAddress: 'lease-address',
  leaseAddresses: 'lease-addresses',
  releaseBlock: 'release-block',
  releaseAddress: 'release-address',
  heartbeat: 'heartbeat',
  ownerGc: 'owner-gc',
  compact: 'compact',
};

let scripts: Record<ScriptName, LuaScript> | undefined;

/** The broker's Lua scripts, read from their files once per process. */
export function brokerScripts(): Record<ScriptName, LuaScript> {
  scripts ??= Object.fromEntries(Object.entries(SCRIPT_FILES).map(([op, file]) => [op, readLuaScript(BROKER_LUA_DIR, file)])) as Record<ScriptName, LuaScript>;
  return scripts;
}

export const IDEMPOTENCY_TTL_MS = 10 * 60_000;

/** Redis answered, refusing before running anything: nothing changed. */
const REFUSED_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|NOREPLICAS|MISCONF|OOM|CLUSTERDOWN|TRYAGAIN)\b/;

export interface KindObjectMap {
  Cluster: Cluster;
  Subnet: Subnet;
  IPPool: IPPool;
  Block: Block;
  AddressLease: AddressLease;
  Gateway: Gateway;
  EgressGateway: BrokerEgressGateway;
  EgressPolicy: BrokerEgressPolicy;
  EgressClusterPolicy: BrokerEgressClusterPolicy;
}

export const EGRESS_KINDS = ['EgressGateway', 'EgressPolicy', 'EgressClusterPolicy'] as const;
export type EgressKind = (typeof EGRESS_KINDS)[number];

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** JSON with `resourceVersion` first (placeholder), the shape the Lua scripts stamp. */
function encodeObject(obj: object): string {
  const { resourceVersion: _rv, ...rest } = obj as Record<string, unknown>;
  const body = JSON.stringify(rest);
  return body === '{}' ? '{"resourceVersion":"__RV__"}' : `{"resourceVersion":"__RV__",${body.slice(1)}`;
}

const now = (): string => new Date().toISOString();

export interface RawEvent {
  rev: number;
  type: string;
  kind: string;
  object: string;
}

/**
 * The broker's state in Redis: objects in one hash per kind, the event log in a stream, allocations in
 * per-pool hashes, all changed only through the Lua scripts in `store/lua/` (keys: `store/keys.ts`). Stateless itself, so any number
 * of broker replicas can share one Redis.
 */
export class BrokerStore {
  readonly prefix: string;
  readonly keys: BrokerKeys;
  private readonly s: Record<ScriptName, ScriptCall>;

  constructor(
    readonly redis: Redis,
    prefix = '{strait}:',
    private readonly idempotencyTtlMs = IDEMPOTENCY_TTL_MS,
  ) {
    this.prefix = prefix;
    this.keys = new BrokerKeys(prefix);
    this.s = defineScripts(redis, 'strait', brokerScripts());
  }

  /**
   * Runs one script, telling apart the two ways a write can fail on the way to Redis: refused before anything was
   * sent (not connected, or Redis refused to run it: UNAVAILABLE, nothing changed), and the connection lost after
   * the script was sent (OUTCOME_UNKNOWN: it may have run). With an Idempotency-Key the script records its reply
   * atomically with the write, and a retry with the key learns the outcome.
   */
  private async run(name: ScriptName, idem: Idem | undefined, ...args: (string | number)[]): Promise<Reply> {
    await this.ensureConnected();
    const head = idem ? `${this.prefix}\n${idem.key}\n${idem.fingerprint}\n${this.idempotencyTtlMs}` : this.prefix;
    let r: Reply;
    try {
      r = (await this.s[name](head, ...args)) as Reply;
    } catch (e) {
      throw this.writeFailure(e);
    }
    if (r[0] === 'IDEMMISMATCH') throw scriptError(r, { kind: '', name: '', idemKey: idem?.key });
    return r;
  }

  /**
   * Resolves when Redis is connected (waiting up to 5 s for a connection under way, which a loaded machine needs for
   * its ready check); else refuses at once, sending nothing.
   */
  private async ensureConnected(): Promise<void> {
    const r = this.redis;
    if (r.status === 'ready') return;
    if (r.status === 'wait') await r.connect().catch(() => undefined);
    else if (r.status === 'connecting' || r.status === 'connect') {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          r.off('ready', done);
          r.off('close', done);
          resolve();
        };
        const t = setTimeout(done, 5000);
        r.once('ready', done);
        r.once('close', done);
      });
    }
    const now = r.status as string; // changed by the awaits above
    if (now !== 'ready') throw new StraitError('UNAVAILABLE', `Redis is not connected (${now}); nothing was sent, nothing changed`);
  }

  private writeFailure(e: unknown): unknown {
    if (e instanceof StraitError) return e;
    const err = e as { name?: string; message?: string };
    if (err?.name === 'ReplyError') {
      if (REFUSED_REPLY.test(err.message ?? '')) return new StraitError('UNAVAILABLE', `Redis refused the write: ${err.message}; nothing changed`, undefined, { cause: e });
      return e;
    }
    return new StraitError(
      'OUTCOME_UNKNOWN',
      `the connection to Redis was lost after the write was sent (${err?.message ?? String(e)}): it may or may not have happened; retry with the same Idempotency-Key to learn which`,
      undefined,
      { cause: e },
    );
  }

  /** The reply recorded under an Idempotency-Key, for writes that read before their script runs. */
  private async replayed(idem: Idem | undefined): Promise<Reply | undefined> {
    if (!idem) return undefined;
    const [fp, reply] = await this.redis.hmget(this.keys.idempotency(idem.key), 'fp', 'reply');
    if (fp === null || fp === undefined) return undefined;
    if (fp !== idem.fingerprint) throw scriptError(['IDEMMISMATCH'], { kind: '', name: '', idemKey: idem.key });
    return JSON.parse(reply ?? '["INTERNAL"]') as Reply;
  }

  /** Full name of a key family of `store/keys.ts` (KEY). */
  key(k: string): string {
    return this.keys.of(k);
  }

  async currentRev(): Promise<string> {
    return (await this.redis.get(this.keys.rev)) ?? '0';
  }

  // ------------------------------------------------------------------ reads
  async list<K extends Kind>(kind: K, filter?: (o: KindObjectMap[K]) => boolean): Promise<List<KindObjectMap[K]>> {
    const res = await this.redis.multi().get(this.keys.rev).hvals(this.keys.objects(kind)).hgetall(this.keys.heartbeats).exec();
    if (!res) throw new StraitError('UNAVAILABLE', 'Redis transaction aborted');
    for (const [err] of res) if (err) throw err;
    const rev = (res[0]?.[1] as string | null) ?? '0';
    let items = (res[1]?.[1] as string[]).map((j) => JSON.parse(j) as KindObjectMap[K]);
    if (kind === 'Cluster') {
      const hb = res[2]?.[1] as Record<string, string>;
      items = items.map((c) => withHeartbeat(c as Cluster, hb[(c as Cluster).id]) as KindObjectMap[K]);
    }
    if (filter) items = items.filter(filter);
    items.sort((a, b) => String(nameOf(kind, a)).localeCompare(String(nameOf(kind, b)), 'en', { numeric: true }));
    return { items, resourceVersion: rev };
  }

  async get<K extends Kind>(kind: K, name: string): Promise<KindObjectMap[K]> {
    const json = await this.redis.hget(this.keys.objects(kind), name);
    if (json === null) throw new StraitError('NOT_FOUND', `${kind} ${JSON.stringify(name)} not found`, { kind, name });
    const obj = JSON.parse(json) as KindObjectMap[K];
    if (kind === 'Cluster') {
      const hb = await this.redis.hget(this.keys.heartbeats, name);
      return withHeartbeat(obj as Cluster, hb ?? undefined) as KindObjectMap[K];
    }
    return obj;
  }

  // ------------------------------------------------------------------ generic writes
  async put<K extends Kind>(
    kind: K,
    name: string,
    mode: 'create' | 'update' | 'upsert',
    obj: Omit<KindObjectMap[K], 'resourceVersion'>,
    expectedRv = '',
    ref?: { kind: Kind; name: string },
    keepCreatedAt = false,
    idem?: Idem,
  ): Promise<KindObjectMap[K]> {
    const r = await this.run('put', idem, kind, name, mode, encodeObject(obj), expectedRv, ref ? KEY.objects(ref.kind) : '', ref?.name ?? '', keepCreatedAt ? '1' : '');
    return objectOf(r, { kind, name, ref }) as KindObjectMap[K];
  }

  async delete<K extends Kind>(
    kind: K,
    name: string,
    opts: { expectedRv?: string; guards?: string[]; cleanup?: [op: 'hdel' | 'srem' | 'del' | 'hsetnow', key: string, field: string][]; idem?: Idem | undefined } = {},
  ): Promise<KindObjectMap[K]> {
    const guards = opts.guards ?? [];
    const cleanup = (opts.cleanup ?? []).flat();
    const r = (await this.replayed(opts.idem)) ?? (await this.run('del', opts.idem, kind, name, opts.expectedRv ?? '', String(Date.now()), guards.length, ...guards, ...cleanup));
    return objectOf(r, { kind, name }) as KindObjectMap[K];
  }

  /** Read-modify-write with CAS; retries when someone else wrote in between (unless the caller pinned a version). */
  async update<K extends Kind>(
    kind: K,
    name: string,
    change: (cur: KindObjectMap[K]) => Omit<KindObjectMap[K], 'resourceVersion'> | undefined,
    pinnedRv?: string,
    idem?: Idem,
  ): Promise<KindObjectMap[K]> {
    // A retried update whose write happened answers what it answered then (not a STALE from its own write).
    const seen = await this.replayed(idem);
    if (seen) return objectOf(seen, { kind, name }) as KindObjectMap[K];
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(kind, name);
      if (pinnedRv !== undefined && cur.resourceVersion !== pinnedRv) {
        throw new StraitError('STALE_RESOURCE_VERSION', `${kind} ${JSON.stringify(name)} has changed (now at resourceVersion ${cur.resourceVersion}); re-read and retry`, { kind, name, resourceVersion: cur.resourceVersion });
      }
      const next = change(cur);
      if (next === undefined) return cur;
      try {
        return await this.put(kind, name, 'update', next, cur.resourceVersion, undefined, false, idem);
      } catch (e) {
        if (pinnedRv === undefined && attempt < 20 && e instanceof StraitError && e.code === 'STALE_RESOURCE_VERSION') continue;
        throw e;
      }
    }
  }

  // ------------------------------------------------------------------ tokens
  async createToken(ttlSeconds: number, uses: number, description?: string): Promise<{ token: Token; secret: string }> {
    const id = randomBytes(4).toString('hex');
    const secret = randomBytes(16).toString('hex');
    const createdAt = Date.now();
    const expiresAt = createdAt + ttlSeconds * 1000;
    await this.ensureConnected();
    await this.redis
      .multi()
      .hset(this.keys.token(id), { hash: sha256Hex(secret), expiresAt, uses, used: 0, createdAt, description: description ?? '' })
      .pexpireat(this.keys.token(id), expiresAt + 86_400_000)
      .sadd(this.keys.tokens, id)
      .exec()
      .catch((e: unknown) => {
        throw this.writeFailure(e);
      });
    return { token: tokenOf(id, { expiresAt: String(expiresAt), uses: String(uses), used: '0', createdAt: String(createdAt), description: description ?? '' }), secret: `${id}.${secret}` };
  }

  async listTokens(): Promise<List<Token>> {
    const ids = await this.redis.smembers(this.keys.tokens);
    const items: Token[] = [];
    for (const id of ids.sort()) {
      const h = await this.redis.hgetall(this.keys.token(id));
      if (!h.hash) {
        await this.redis.srem(this.keys.tokens, id);
        continue;
      }
      items.push(tokenOf(id, h));
    }
    return { items, resourceVersion: await this.currentRev() };
  }

  async revokeToken(id: string): Promise<void> {
    const n = await this.redis.del(this.keys.token(id));
    await this.redis.srem(this.keys.tokens, id);
    if (n === 0) throw new StraitError('NOT_FOUND', `token ${JSON.stringify(id)} not found`, { kind: 'Token', name: id });
  }

  // ------------------------------------------------------------------ clusters
  /**
   * Registers a new cluster with a join token. A registered id is refused whatever the token (ALREADY_EXISTS):
   * re-joining goes through `rejoinCluster` with the cluster's credential, a lost credential is replaced by the
   * admin with `rotateCredential`.
   */
  async joinCluster(joinToken: string, req: { id: string; podCIDRs: string[]; serviceCIDRs: string[]; labels?: Record<string, string> }, idem?: Idem): Promise<{ cluster: Cluster; credential: string; rejoined: boolean }> {
    const m = /^([0-9a-f]{8})\.([0-9a-f]{32})$/.exec(joinToken);
    if (!m) throw new StraitError('JOIN_TOKEN_INVALID', 'the join token is not of the form <id>.<secret>');
    const { pod, svc, cidrKey, ranges } = clusterRanges(req);
    const secret = randomBytes(24).toString('hex');
    const ts = now();
    const cluster: Omit<Cluster, 'resourceVersion'> = { id: req.id, podCIDRs: pod, serviceCIDRs: svc, ...(req.labels ? { labels: req.labels } : {}), status: 'Ready', joinedAt: ts, lastHeartbeat: ts };
    const credential = `c.${req.id}.${secret}`;
    const r = await this.run('join', idem, m[1]!, sha256Hex(m[2]!), String(Date.now()), req.id, encodeObject(cluster), cidrKey, sha256Hex(secret), ranges.map(rangeEntry).join(';'), credential);
    switch (r[0]) {
      case 'OK': {
        const c = JSON.parse(r[1]!) as Cluster;
        // The credential of the reply: a replayed join answers the credential it issued then.
        return { cluster: c, credential: r[2] ?? credential, rejoined: false };
      }
      default:
        throw scriptError(r, { kind: 'Cluster', name: req.id, cidrKey });
    }
  }

  /**
   * Re-join of a registered cluster that proves who it is with its current credential `c.<id>.<secret>`: checks
   * that the id and CIDRs are the registered ones and answers the cluster with the same credential. Writes
   * nothing, so a re-run of `strait join` changes nothing.
   */
  async rejoinCluster(credential: string, req: { id: string; podCIDRs: string[]; serviceCIDRs: string[] }): Promise<{ cluster: Cluster; credential: string; rejoined: boolean }> {
    const m = /^c\.([a-z0-9][-a-z0-9.]{0,62})\.([0-9a-f]{48})$/.exec(credential);
    if (!m || m[1] !== req.id || !(await this.verifyClusterCredential(req.id, m[2]!))) {
      throw new StraitError('UNAUTHENTICATED', `re-joining cluster ${JSON.stringify(req.id)} needs its current credential (or a join token for a new cluster)`, { cluster: req.id });
    }
    const { cidrKey } = clusterRanges(req);
    const had = await this.redis.hget(this.keys.cidrs, req.id);
    if (had !== cidrKey) {
      throw new StraitError('ALREADY_EXISTS', `cluster ${JSON.stringify(req.id)} is already registered with other CIDRs (${had}); remove it first or use another id`, { kind: 'Cluster', name: req.id, registered: had });
    }
    return { cluster: await this.get('Cluster', req.id), credential, rejoined: true };
  }

  /** Issues a new credential for a registered cluster; the old one stops working at once. */
  async rotateCredential(id: string, idem?: Idem): Promise<{ cluster: Cluster; credential: string }> {
    const secret = randomBytes(24).toString('hex');
    const r = await this.run('rotate', idem, id, sha256Hex(secret), `c.${id}.${secret}`);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'Cluster', name: id });
    return { cluster: await this.get('Cluster', id), credential: r[2] ?? `c.${id}.${secret}` };
  }

  /** True when `c.<id>.<secret>` is the current credential of cluster `id`. */
  async verifyClusterCredential(id: string, secret: string): Promise<boolean> {
    const h = await this.redis.hget(this.keys.creds, id);
    return h !== null && h === sha256Hex(secret);
  }

  /**
   * Records a heartbeat. `nodes` / `addressOwners`, when given, are the COMPLETE sets of the cluster's live node
   * names and live address-lease owners (the owner GC returns leases of names missing from them for longer than
   * its grace); when left out, that kind is unknown and nothing of it is collected.
   */
  async heartbeat(id: string, opts: { nodes?: readonly string[]; addressOwners?: readonly string[] } = {}): Promise<Cluster> {
    const set = (xs: readonly string[] | undefined): string[] => (xs === undefined ? ['-1'] : [String(xs.length), ...xs]);
    const r = await this.run('heartbeat', undefined, id, String(Date.now()), ...set(opts.nodes), ...set(opts.addressOwners));
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'Cluster', name: id });
    // Heartbeats themselves do not write events (they would flood the log); only a status flip does.
    return this.update('Cluster', id, (c) => (c.status === 'Ready' ? undefined : { ...strip(c), status: 'Ready' as const }));
  }

  /**
   * Removes a cluster and the pools it owns. Refused with IN_USE (changing nothing) while any of its pools has
   * leased blocks or addresses, whoever holds them: deleting such a pool would pull addresses from under running
   * pods. The lease check is a guard of the same atomic delete as the cluster itself; the pools go right after
   * (a pool leased or created in between is left to the garbage collector, which deletes ownerless pools once
   * they are free).
   */
  async removeCluster(id: string, expectedRv?: string, idem?: Idem): Promise<Cluster> {
    const owned = (await this.list('IPPool', (p) => p.cluster === id)).items;
    let removed: Cluster;
    try {
      removed = await this.delete('Cluster', id, {
        ...(expectedRv ? { expectedRv } : {}),
        idem,
        guards: owned.flatMap((p) => [KEY.poolBlocks(p.name), KEY.poolAddresses(p.name)]),
        cleanup: [
        ['hdel', KEY.creds, id],
        ['hdel', KEY.ranges('cluster'), id],
        ['hdel', KEY.cidrs, id],
        ['hdel', KEY.joinedVia, id],
          ['hdel', KEY.heartbeats, id],
          ['hsetnow', KEY.left, id],
          ['hdel', KEY.lastReported, `node:${id}`],
          ['hdel', KEY.lastReported, `owner:${id}`],
          ['del', KEY.live('node', id), '-'],
          ['del', KEY.live('owner', id), '-'],
          ['del', KEY.missing('node', id), '-'],
          ['del', KEY.missing('owner', id), '-'],
        ],
      });
    } catch (e) {
      if (e instanceof StraitError && e.code === 'IN_USE') {
        const d = (e.details ?? {}) as { guard?: string; key?: string };
        const guard = d.guard ?? '';
        const pool = /^p[ab]:(.*)$/.exec(d.key ?? '')?.[1] ?? '';
        throw new StraitError('IN_USE', `cluster ${id} still owns pool ${pool}, which ${guard.replace(/^it /, '')}; return those leases (or delete the pool) before the cluster leaves`, { kind: 'Cluster', name: id, pool, guard });
      }
      throw e;
    }
    await this.deleteOwnerlessPools(id);
    await this.deleteEgressOf(id);
    return removed;
  }

  /**
   * Creates or replaces one of a cluster's egress objects (keeping its createdAt). Refused with NOT_FOUND unless
   * the cluster is registered, checked in the same script as the write, so nothing is left behind by a cluster
   * that left a moment ago.
   */
  async putEgress<K extends EgressKind>(
    kind: K,
    obj: { cluster: string; name: string; namespace?: string; spec: unknown; labels: Record<string, string> },
    expectedRv = '',
    idem?: Idem,
  ): Promise<KindObjectMap[K]> {
    const ts = now();
    // createdAt goes second: the script swaps in the stored one when it replaces an object.
    const full = { createdAt: ts, cluster: obj.cluster, ...(obj.namespace !== undefined ? { namespace: obj.namespace } : {}), name: obj.name, spec: obj.spec, labels: obj.labels, updatedAt: ts };
    return this.put(kind, egressKey(obj), 'upsert', full as unknown as Omit<KindObjectMap[K], 'resourceVersion'>, expectedRv, { kind: 'Cluster', name: obj.cluster }, true, idem);
  }

  /** Deletes every egress object of a cluster (it left); one event each. Returns how many went. */
  async deleteEgressOf(cluster: string): Promise<number> {
    let n = 0;
    for (const kind of EGRESS_KINDS) {
      const names = (await this.redis.hkeys(this.keys.objects(kind))).filter((k) => k.startsWith(`${cluster}/`));
      for (const name of names) {
        try {
          await this.delete(kind, name);
          n++;
        } catch (e) {
          if (!(e instanceof StraitError) || e.code !== 'NOT_FOUND') throw e;
        }
      }
    }
    return n;
  }

  /** Deletes the free pools of a cluster that is not registered (any more); leased ones stay until they are free. */
  async deleteOwnerlessPools(cluster: string): Promise<number> {
    if ((await this.redis.hexists(this.keys.objects('Cluster'), cluster)) === 1) return 0;
    let n = 0;
    for (const p of (await this.list('IPPool', (x) => x.cluster === cluster)).items) {
      try {
        await this.deletePool(p.name, p.resourceVersion);
        n++;
      } catch (e) {
        if (!(e instanceof StraitError) || !['IN_USE', 'NOT_FOUND', 'STALE_RESOURCE_VERSION'].includes(e.code)) throw e;
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ subnets and pools
  async createSubnet(req: { name: string; cidr: string; description?: string }, idem?: Idem): Promise<Subnet> {
    const r = parseCidrRange(req.cidr);
    const obj: Omit<Subnet, 'resourceVersion'> = { name: req.name, cidr: r.cidr, ...(req.description !== undefined ? { description: req.description } : {}), createdAt: now() };
    const res = await this.run('createRanged', idem, 'Subnet', KEY.ranges('subnet'), req.name, encodeObject(obj), r.start, r.end, r.cidr, '', '');
    return objectOf(res, { kind: 'Subnet', name: req.name, cidr: r.cidr }) as Subnet;
  }

  async deleteSubnet(name: string, expectedRv?: string, idem?: Idem): Promise<Subnet> {
    return this.delete('Subnet', name, { ...(expectedRv ? { expectedRv } : {}), idem, guards: [KEY.subnetPools(name)], cleanup: [['hdel', KEY.ranges('subnet'), name]] });
  }

  async createPool(req: { name: string; cidr: string; blockSize?: number; subnet?: string; purpose: IPPool['purpose']; description?: string; cluster?: string }, idem?: Idem): Promise<IPPool> {
    const r = parseCidrRange(req.cidr);
    const blockSize = req.blockSize ?? defaultBlockSize(r);
    if (blockSize < r.prefix || blockSize > r.bits) {
      throw new StraitError('INVALID_ARGUMENT', `blockSize ${blockSize} must lie between the pool's prefix length ${r.prefix} and ${r.bits}`, { field: 'blockSize' });
    }
    if (blockSize - r.prefix > MAX_POOL_INDEX_BITS) {
      throw new StraitError('INVALID_ARGUMENT', `a pool holds at most 2^${MAX_POOL_INDEX_BITS} blocks: blockSize ${blockSize} is too long for /${r.prefix}`, { field: 'blockSize' });
    }
    const obj: Omit<IPPool, 'resourceVersion'> = {
      name: req.name,
      cidr: r.cidr,
      blockSize,
      ...(req.subnet !== undefined ? { subnet: req.subnet } : {}),
      purpose: req.purpose,
      ...(req.description !== undefined ? { description: req.description } : {}),
      ...(req.cluster !== undefined ? { cluster: req.cluster } : {}),
      createdAt: now(),
    };
    const res = await this.run('createRanged', idem, 'IPPool', KEY.ranges('pool'), req.name, encodeObject(obj), r.start, r.end, r.cidr, req.subnet ?? '', poolMeta(r, blockSize), req.cluster ?? '');
    return objectOf(res, { kind: 'IPPool', name: req.name, cidr: r.cidr, subnet: req.subnet, cluster: req.cluster }) as IPPool;
  }

  /**
   * Deletes a pool (refused while leased). `allowed` sees the stored pool (e.g. to check its owner); the delete
   * is a CAS on that pool's resourceVersion, so what was checked is exactly what goes.
   */
  async deletePool(name: string, expectedRv?: string, allowed?: (pool: IPPool) => void, idem?: Idem): Promise<IPPool> {
    // A retried delete whose write happened answers what it answered then (not NOT_FOUND from its own delete).
    const seen = await this.replayed(idem);
    if (seen) return objectOf(seen, { kind: 'IPPool', name }) as IPPool;
    const pool = await this.get('IPPool', name);
    allowed?.(pool);
    if (expectedRv !== undefined && expectedRv !== pool.resourceVersion) {
      throw new StraitError('STALE_RESOURCE_VERSION', `IPPool ${JSON.stringify(name)} has changed (now at resourceVersion ${pool.resourceVersion}); re-read and retry`, { kind: 'IPPool', name, resourceVersion: pool.resourceVersion });
    }
    return this.delete('IPPool', name, {
      expectedRv: pool.resourceVersion,
      idem,
      guards: [KEY.poolBlocks(name), KEY.poolAddresses(name)],
      cleanup: [
        ['hdel', KEY.ranges('pool'), name],
        ['hdel', KEY.poolMeta, name],
        ['del', KEY.poolCursor(name), '-'],
        ['del', KEY.poolOwners(name), '-'],
        ['del', KEY.poolAddressBlocks(name), '-'],
        ...(pool.subnet ? [['srem', KEY.subnetPools(pool.subnet), name] as ['srem', string, string]] : []),
      ],
    });
  }

  // ------------------------------------------------------------------ leases
  async leaseBlock(pool: string, cluster: string, node: string, idem?: Idem): Promise<Block> {
    const r = await this.run('leaseBlock', idem, pool, cluster, node, now());
    return objectOf(r, { kind: 'block', name: pool, pool, cluster }) as Block;
  }

  /** One block per entry of `nodes`, in one atomic step; all or nothing (POOL_EXHAUSTED changes nothing). */
  async leaseBlocks(pool: string, cluster: string, nodes: readonly string[], idem?: Idem): Promise<List<Block>> {
    const r = await this.run('leaseBlocks', idem, pool, cluster, now(), nodes.length, ...nodes);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'block', name: pool, pool, cluster, requested: nodes.length });
    return { items: r.slice(2).map((j) => JSON.parse(j) as Block), resourceVersion: r[1] ?? '' };
  }

  /**
   * One address per owner, in one atomic step; all or nothing (POOL_EXHAUSTED and ALREADY_EXISTS change nothing);
   * owners that hold an address of the pool get it back. Items are in the order of `owners`.
   */
  async leaseAddresses(pool: string, owners: readonly string[], cluster: string, idem?: Idem): Promise<List<AddressLease>> {
    const r = await this.run('leaseAddresses', idem, pool, cluster, now(), owners.length, ...owners);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'address', name: pool, pool, cluster, requested: owners.length });
    return { items: r.slice(2).map((j) => JSON.parse(j) as AddressLease), resourceVersion: r[1] ?? '' };
  }

  async releaseBlock(id: string, requiredCluster = '', idem?: Idem): Promise<Block> {
    const r = await this.run('releaseBlock', idem, id, requiredCluster);
    return objectOf(r, { kind: 'Block', name: id }) as Block;
  }

  async leaseAddress(pool: string, owner: string, cluster: string, idem?: Idem): Promise<{ lease: AddressLease; existing: boolean }> {
    const r = await this.run('leaseAddress', idem, pool, owner, cluster, now());
    return { lease: objectOf(r, { kind: 'address', name: pool, pool, cluster, owner }) as AddressLease, existing: r[0] === 'EXISTING' };
  }

  async releaseAddress(ip: string, requiredCluster = '', idem?: Idem): Promise<AddressLease> {
    const r = await this.run('releaseAddress', idem, ip, requiredCluster);
    return objectOf(r, { kind: 'AddressLease', name: ip }) as AddressLease;
  }

  /**
   * Owner GC of one lease (see `store/lua/heartbeat.lua` and `owner-gc.lua`): `released` when its node (block) or owner
   * (address) has been missing from the cluster's reported set for at least `graceMs`.
   */
  async collectIfOwnerGone(kind: 'node' | 'owner', target: string, nowMs: number, graceMs: number): Promise<'released' | 'live' | 'wait' | 'unknown' | 'gone'> {
    const r = await this.run('ownerGc', undefined, kind, target, String(nowMs), String(graceMs));
    switch (r[0]) {
      case 'OK':
        return 'released';
      case 'LIVE':
        return 'live';
      case 'WAIT':
        return 'wait';
      case 'UNKNOWN':
        return 'unknown';
      default:
        return 'gone';
    }
  }

  // ------------------------------------------------------------------ event log
  async compacted(): Promise<number> {
    return Number((await this.redis.get(this.keys.compacted)) ?? '0');
  }

  /** Events with rev > after, oldest first. */
  async eventsAfter(after: number, count = 1000): Promise<RawEvent[]> {
    const rows = (await this.redis.xrange(this.keys.events, `(${after}-0`, '+', 'COUNT', count)) as [string, string[]][];
    return rows.map(parseEntry);
  }

  /** Trims the log to the last `keep` events; returns the compaction point. */
  async compact(keep: number): Promise<number> {
    const rev = Number(await this.currentRev());
    const upto = Math.max(0, rev - keep);
    return Number(await this.s.compact(this.prefix, String(upto)));
  }
}

/** A cluster's CIDRs canonical, checked not to overlap each other, and as the key the store compares re-joins by. */
function clusterRanges(req: { id: string; podCIDRs: string[]; serviceCIDRs: string[] }): { pod: string[]; svc: string[]; cidrKey: string; ranges: ReturnType<typeof parseCidrRange>[] } {
  const ranges = [...req.podCIDRs, ...req.serviceCIDRs].map(parseCidrRange);
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!, b = ranges[j]!;
      if (rangesOverlap(a, b)) {
        throw new StraitError('CIDR_OVERLAP', `cluster ${req.id}: its own CIDRs ${a.cidr} and ${b.cidr} overlap`, { cluster: req.id, ranges: [{ cidr: a.cidr, conflictsWith: b.cidr }] });
      }
    }
  }
  const pod = req.podCIDRs.map((c) => parseCidrRange(c).cidr);
  const svc = req.serviceCIDRs.map((c) => parseCidrRange(c).cidr);
  return { pod, svc, cidrKey: `pod=${[...pod].sort().join(',')};svc=${[...svc].sort().join(',')}`, ranges };
}

export function parseEntry([id, fields]: [string, string[]]): RawEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return { rev: Number(id.split('-')[0]), type: f.t ?? '', kind: f.k ?? '', object: f.o ?? '{}' };
}

function withHeartbeat(c: Cluster, hb: string | undefined): Cluster {
  return hb ? { ...c, lastHeartbeat: new Date(Number(hb)).toISOString() } : c;
}

function strip<T extends { resourceVersion: string }>(o: T): Omit<T, 'resourceVersion'> {
  const { resourceVersion: _rv, ...rest } = o;
  return rest;
}

function nameOf(kind: Kind, o: unknown): string {
  const x = o as Record<string, string>;
  switch (kind) {
    case 'Cluster':
      return x.id ?? '';
    case 'Block':
      return x.id ?? '';
    case 'AddressLease':
      return x.ip ?? '';
    case 'Gateway':
    case 'EgressGateway':
    case 'EgressClusterPolicy':
    case 'EgressPolicy':
      return egressKey(x as { cluster: string; name: string; namespace?: string });
    default:
      return x.name ?? '';
  }
}

/** Hash field of a cluster-scoped object: `cluster/name`, or `cluster/namespace/name` for namespaced ones. */
export function egressKey(o: { cluster: string; name: string; namespace?: string | undefined }): string {
  return o.namespace === undefined ? `${o.cluster}/${o.name}` : `${o.cluster}/${o.namespace}/${o.name}`;
}

function tokenOf(id: string, h: Record<string, string>): Token {
  return {
    id,
    ...(h.description ? { description: h.description } : {}),
    createdAt: new Date(Number(h.createdAt)).toISOString(),
    expiresAt: new Date(Number(h.expiresAt)).toISOString(),
    uses: Number(h.uses),
    used: Number(h.used),
  };
}
