import { StraitError } from '../api/index.js';
import type { AllocatedIp, AllocationRequest, AllocationResult, PoolRejection } from './allocation-request.js';
import type { AllocationRecord, AllocationStore } from './allocation-store.js';
import { BlockState } from './block-state.js';
import { cidrOf, formatCidr } from './cidr.js';
import { planBlockRelease, planGarbageCollection, type BlockUsage, type GcPlan, type LiveSet } from './gc-plan.js';
import { formatIp, parseIp, type IpFamily } from './ip-address.js';
import { rangesContain } from './ip-range.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { IpamConfig, Route } from './model.js';
import { ownerKey, parkedOwnerKey, stickyKey, validateOwner, type Owner } from './owner.js';
import { noPoolFits, selectPools } from './pool-selection.js';
import { compileIpamConfig, type CompiledPool } from './pool-validation.js';

export interface IpamEngineOptions {
  store: AllocationStore;
  config: IpamConfig;
  /** Clock in ms; injected by tests. */
  now?: () => number;
  /**
   * When a pool looks exhausted, the engine re-reads it from the store (another process may have freed addresses),
   * at most once per this many ms per pool, so a full pool does not turn every ADD into a full store scan.
   * Default 1000.
   */
  resyncIntervalMs?: number;
}

/** Usage of one pool as the engine sees it. */
export interface PoolUsage {
  pool: string;
  family: IpFamily;
  /** Addresses the pool can hand out in total. */
  total: number;
  /** Addresses of the pool held (including parked StatefulSet addresses). */
  used: number;
  free: number;
  /** Blocks leased per node. */
  blocks: Record<string, string[]>;
}

interface PoolState {
  pool: CompiledPool;
  /** Blocks with any usage or lease, by CIDR text. */
  blocks: Map<string, BlockState>;
  /** CIDR text → node holding the lease. */
  leases: Map<string, string>;
  /** node → blocks leased to it, in lease order. */
  byNode: Map<string, BlockState[]>;
}

const ctrKey = (containerId: string, ifName: string): string => `${containerId}/${ifName}`;

/** A cached record with where it sits, so the hot path never re-parses addresses. */
interface Entry {
  rec: AllocationRecord;
  ps: PoolState | undefined;
  block: BlockState | undefined;
  offset: number;
  /** Whether the address is in its pool's usable ranges (counts in usage, may be handed out again). */
  usable: boolean;
}

/**
 * The IPAM engine the node agent (and the broker) calls. Holds a cache of the store for speed; the store stays
 * the arbiter: every address is reserved in the store (atomically, durably) before it is returned, and an address
 * the store says is taken is skipped. Safe for any number of concurrent calls.
 *
 * - `allocate(owner, request)`: idempotent per owner (same owner → same addresses, one per family).
 * - `release(owner)`: idempotent; StatefulSet addresses are parked for the next pod of the same ordinal.
 * - `check(owner)`: the owner's current result, verified against the store, or undefined.
 * - `collectGarbage(live)`, `releaseEmptyBlocks()`: housekeeping, both with grace periods.
 */
export class IpamEngine {
  private readonly store: AllocationStore;
  private readonly now: () => number;
  private readonly resyncIntervalMs: number;
  private readonly lastResync = new Map<string, number>();
  private pools = new Map<string, PoolState>();
  private readonly records = new Map<string, Entry>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly byContainer = new Map<string, Set<string>>();
  private readonly ownerLocks = new KeyedMutex();
  private readonly leaseLocks = new KeyedMutex();
  private ready: Promise<void> | undefined;
  private compiled = new Map<string, CompiledPool>();
  private compiledFor: Map<string, PoolState> | undefined;
  private config: IpamConfig;

  /** Validates the config at once (throws INVALID_POOL, POOL_OVERLAP, ...); does no I/O. */
  constructor(opts: IpamEngineOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 1000;
    this.config = opts.config;
    this.pools = this.buildPools(compileIpamConfig(opts.config));
  }

  /** Loads allocations and leases from the store. Called implicitly by the first operation. */
  sync(): Promise<void> {
    this.ready ??= this.load().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  /** Replaces the configuration (validated first; on error nothing changes). Existing allocations stay. */
  async reconfigure(config: IpamConfig): Promise<void> {
    const compiled = compileIpamConfig(config);
    await this.sync();
    this.config = config;
    this.pools = this.buildPools(compiled);
    await this.reloadLeases();
    for (const e of [...this.records.values()]) {
      this.records.delete(e.rec.address);
      this.cacheAdd(e.rec);
    }
  }

  getConfig(): IpamConfig {
    return this.config;
  }

  private buildPools(compiled: CompiledPool[]): Map<string, PoolState> {
    return new Map(compiled.map((p) => [p.name, { pool: p, blocks: new Map(), leases: new Map(), byNode: new Map() }]));
  }

  private async load(): Promise<void> {
    this.records.clear();
    this.byOwner.clear();
    this.byContainer.clear();
    for (const ps of this.pools.values()) {
      ps.blocks.clear();
      ps.leases.clear();
      ps.byNode.clear();
    }
    await this.reloadLeases();
    for (const r of await this.store.list()) this.cacheAdd(r);
  }

  private async reloadLeases(): Promise<void> {
    const leases = await this.store.listBlocks();
    for (const ps of this.pools.values()) {
      ps.leases.clear();
      ps.byNode.clear();
    }
    for (const l of leases) {
      const ps = this.pools.get(l.pool);
      if (!ps) continue;
      let block;
      try {
        block = this.blockFor(ps, parseIp(l.cidr.split('/')[0]!).value);
      } catch {
        continue;
      }
      if (block.cidrText !== l.cidr) continue; // leased under another block size; ignore until released
      this.noteLease(ps, block, l.node);
    }
  }

  private noteLease(ps: PoolState, block: BlockState, node: string): void {
    ps.leases.set(block.cidrText, node);
    let list = ps.byNode.get(node);
    if (!list) ps.byNode.set(node, (list = []));
    if (!list.includes(block)) list.push(block);
  }

  private blockFor(ps: PoolState, value: bigint): BlockState {
    const cidr = cidrOf(ps.pool.family, value, ps.pool.blockPrefix);
    const text = formatCidr(cidr);
    let b = ps.blocks.get(text);
    if (!b) {
      b = new BlockState(cidr, ps.pool.usable, this.now());
      ps.blocks.set(text, b);
    }
    return b;
  }

  /** The pool state an address belongs to (by the record's pool, if it still contains the address). */
  private poolOf(r: AllocationRecord): PoolState | undefined {
    const v = parseIp(r.address);
    const inside = (ps: PoolState): boolean => v.family === ps.pool.family && v.value >= ps.pool.subnet.first && v.value <= ps.pool.subnet.last;
    const ps = this.pools.get(r.pool);
    if (ps && inside(ps)) return ps;
    // Unknown or changed pool (config edited, unreadable record): account it to the pool that hands it out now.
    for (const other of this.pools.values()) if (inside(other) && rangesContain(other.pool.usable, v.value)) return other;
    return undefined;
  }

  private place(r: AllocationRecord): Entry {
    const ps = this.poolOf(r);
    if (!ps) return { rec: r, ps, block: undefined, offset: -1, usable: false };
    const v = parseIp(r.address).value;
    const block = this.blockFor(ps, v);
    return { rec: r, ps, block, offset: block.offsetOf(v), usable: rangesContain(ps.pool.usable, v) };
  }

  /** Adds or updates a record; `at` is its known place (fresh allocations), else computed (or kept from before). */
  private cacheAdd(r: AllocationRecord, at?: { ps: PoolState; block: BlockState; offset: number }): void {
    const prev = this.records.get(r.address);
    if (prev) this.unindex(prev.rec);
    const entry: Entry = at ? { rec: r, ...at, usable: true } : prev ? { ...prev, rec: r } : this.place(r);
    this.records.set(r.address, entry);
    entry.block?.markUsed(entry.offset);
    let s = this.byOwner.get(r.ownerKey);
    if (!s) this.byOwner.set(r.ownerKey, (s = new Set()));
    s.add(r.address);
    if (r.owner) {
      const k = ctrKey(r.owner.containerId, r.owner.ifName);
      let c = this.byContainer.get(k);
      if (!c) this.byContainer.set(k, (c = new Set()));
      c.add(r.address);
    }
  }

  private unindex(r: AllocationRecord): void {
    const s = this.byOwner.get(r.ownerKey);
    s?.delete(r.address);
    if (s?.size === 0) this.byOwner.delete(r.ownerKey);
    if (r.owner) {
      const k = ctrKey(r.owner.containerId, r.owner.ifName);
      const c = this.byContainer.get(k);
      c?.delete(r.address);
      if (c?.size === 0) this.byContainer.delete(k);
    }
  }

  private cacheRemove(address: string): void {
    const e = this.records.get(address);
    if (!e) return;
    this.unindex(e.rec);
    this.records.delete(address);
    e.block?.markFree(e.offset, e.usable, this.now());
  }

  private ownerRecords(key: string): AllocationRecord[] {
    return [...(this.byOwner.get(key) ?? [])].flatMap((a) => this.records.get(a)?.rec ?? []);
  }

  private result(records: AllocationRecord[], explanation: string[]): AllocationResult {
    const ips: AllocatedIp[] = [];
    const routes: Route[] = [];
    const seen = new Set<string>();
    const sorted = [...records].sort((a, b) => (a.family < b.family ? -1 : a.family > b.family ? 1 : 0));
    for (const r of sorted) {
      const pool = this.pools.get(r.pool)?.pool;
      const prefix = pool ? pool.subnet.prefix : r.family === 'ipv4' ? 32 : 128;
      const ip: AllocatedIp = { address: `${r.address}/${prefix}`, family: r.family, pool: r.pool };
      if (pool?.gateway !== undefined) ip.gateway = pool.gateway;
      if (pool?.vlan !== undefined) ip.vlan = pool.vlan;
      ips.push(ip);
      for (const rt of pool?.routes ?? []) {
        const k = `${rt.dst} ${rt.gw ?? ''}`;
        if (!seen.has(k)) {
          seen.add(k);
          routes.push({ ...rt });
        }
      }
    }
    return { ips, routes, explanation };
  }

  /**
   * Gives the owner one address per selected family. Idempotent: an owner that already holds addresses gets them
   * back (the container id is refreshed when the pod uid is the identity). Throws POOL_EXHAUSTED, POOL_NOT_FOUND,
   * NO_POOL_MATCHES (details list each pool and reason), INVALID_OWNER, INVALID_POOL_ANNOTATION; on error nothing
   * stays allocated.
   */
  async allocate(owner: Owner, request: AllocationRequest): Promise<AllocationResult> {
    validateOwner(owner);
    if (!request?.node?.name) throw new StraitError('INVALID_ARGUMENT', 'allocation request needs node.name');
    const key = ownerKey(owner);
    return this.ownerLocks.run(key, async () => {
      await this.sync();
      const existing = this.ownerRecords(key);
      if (existing.length > 0) {
        const out: AllocationRecord[] = [];
        for (const r of existing) {
          if (r.owner?.containerId !== owner.containerId) {
            const next: AllocationRecord = { ...r, owner: { ...owner }, updatedAt: this.now() };
            if (await this.store.replace(r.address, r.ownerKey, next)) {
              this.cacheAdd(next);
              out.push(next);
              continue;
            }
          }
          out.push(r);
        }
        return this.result(out, ['owner already holds its addresses']);
      }
      const selection = selectPools(this.poolStates(), owner.ifName, owner.namespace, request);
      const explanation = [...selection.explanation];
      const got: AllocationRecord[] = [];
      const tookOver = new Set<string>();
      try {
        for (const fam of selection.families) {
          const rejected: PoolRejection[] = [...fam.rejected];
          let rec: AllocationRecord | undefined;
          const sticky = stickyKey(owner);
          if (sticky) {
            rec = await this.takeSticky(owner, key, sticky, fam.family, fam.candidates);
            if (rec) tookOver.add(rec.address);
            if (rec) explanation.push(`${fam.family}: StatefulSet ${sticky} keeps ${rec.address} from pool "${rec.pool}"`);
          }
          for (const pool of rec ? [] : fam.candidates) {
            rec = await this.allocateInPool(this.pools.get(pool.name)!, owner, key, sticky, request.node.name);
            if (rec) {
              explanation.push(`${fam.family}: ${rec.address} from pool "${pool.name}" block ${rec.block}`);
              break;
            }
            rejected.push({ pool: pool.name, family: fam.family, reason: 'exhausted', detail: `pool "${pool.name}" has no free address for node ${request.node.name}` });
            explanation.push(`${fam.family}: skipped pool "${pool.name}": exhausted`);
          }
          if (!rec) throw noPoolFits(fam.family, selection.source, rejected);
          got.push(rec);
        }
      } catch (e) {
        // Undo what this call took: a fresh address is freed, a StatefulSet address taken over goes back to parked.
        for (const r of got) await this.releaseRecord(r, !tookOver.has(r.address));
        throw e;
      }
      return this.result(got, explanation);
    });
  }

  private poolStates(): Map<string, CompiledPool> {
    if (this.compiledFor !== this.pools) {
      this.compiledFor = this.pools;
      this.compiled = new Map([...this.pools].map(([n, ps]) => [n, ps.pool]));
    }
    return this.compiled;
  }

  /** Takes over the address bound to a StatefulSet ordinal, if it is in one of the candidate pools. */
  private async takeSticky(owner: Owner, key: string, sticky: string, family: IpFamily, candidates: CompiledPool[]): Promise<AllocationRecord | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const bound = (await this.store.list({ sticky })).filter((r) => r.family === family);
      const cur = bound[0];
      if (!cur) return undefined;
      if (!candidates.some((p) => p.name === cur.pool)) {
        // The pod now asks for other pools: the old binding no longer applies; free it if nobody uses it.
        if (!cur.owner && (await this.store.replace(cur.address, cur.ownerKey))) this.cacheRemove(cur.address);
        return undefined;
      }
      const next: AllocationRecord = { ...cur, ownerKey: key, owner: { ...owner }, updatedAt: this.now() };
      if (cur.ownerKey === key || (await this.store.replace(cur.address, cur.ownerKey, next))) {
        if (cur.ownerKey === key) return cur;
        this.cacheAdd(next);
        return next;
      }
    }
    return undefined;
  }

  private async allocateInPool(ps: PoolState, owner: Owner, key: string, sticky: string | undefined, node: string): Promise<AllocationRecord | undefined> {
    let resynced = false;
    for (;;) {
      const r = await this.reserveInNodeBlocks(ps, owner, key, sticky, node);
      if (r) return r;
      if (await this.leaseNewBlock(ps, node)) continue;
      // Nothing free as far as the cache knows; another process may have freed addresses or blocks. Look once.
      const last = this.lastResync.get(ps.pool.name);
      if (resynced || (last !== undefined && this.now() - last < this.resyncIntervalMs)) return undefined;
      resynced = true;
      this.lastResync.set(ps.pool.name, this.now());
      await this.resyncPool(ps);
    }
  }

  private async reserveInNodeBlocks(ps: PoolState, owner: Owner, key: string, sticky: string | undefined, node: string): Promise<AllocationRecord | undefined> {
    for (const b of ps.byNode.get(node) ?? []) {
      for (let o = b.findFree(); o >= 0; o = b.findFree()) {
        // Mark before awaiting so concurrent allocations in this process never pick the same address.
        b.markUsed(o);
        const rec: AllocationRecord = {
          address: formatIp(ps.pool.family, b.valueAt(o)),
          family: ps.pool.family,
          pool: ps.pool.name,
          ownerKey: key,
          owner: { ...owner },
          block: b.cidrText,
          updatedAt: this.now(),
        };
        if (sticky) rec.sticky = sticky;
        let ok: boolean;
        try {
          ok = await this.store.reserve(rec);
        } catch (e) {
          b.markFree(o, true, this.now());
          throw e;
        }
        if (ok) {
          this.cacheAdd(rec, { ps, block: b, offset: o });
          return rec;
        }
        // Taken by another process: learn who holds it (stays marked used either way).
        const holder = await this.store.get(rec.address);
        if (holder) this.cacheAdd(holder);
      }
    }
    return undefined;
  }

  /** Leases the first unleased block with a free address to `node`. False if none is left. */
  private async leaseNewBlock(ps: PoolState, node: string): Promise<boolean> {
    return this.leaseLocks.run(`${ps.pool.name} ${node}`, async () => {
      // Another caller may have leased while we waited.
      if ((ps.byNode.get(node) ?? []).some((b) => b.free > 0)) return true;
      if (this.store.leaseAnyBlock) return this.leaseBlockPickedByStore(ps, node);
      const size = 1n << BigInt((ps.pool.family === 'ipv4' ? 32 : 128) - ps.pool.blockPrefix);
      for (const r of ps.pool.usable) {
        for (let start = cidrOf(ps.pool.family, r.first, ps.pool.blockPrefix).first; start <= r.last; start += size) {
          const text = formatCidr(cidrOf(ps.pool.family, start, ps.pool.blockPrefix));
          if (ps.leases.has(text)) continue;
          const b = this.blockFor(ps, start);
          if (b.free === 0) continue;
          if (await this.store.leaseBlock({ pool: ps.pool.name, cidr: b.cidrText, node, leasedAt: this.now() })) {
            b.emptySince = this.now();
            this.noteLease(ps, b, node);
            return true;
          }
          const holder = (await this.store.listBlocks({ pool: ps.pool.name })).find((l) => l.cidr === b.cidrText);
          if (holder) this.noteLease(ps, b, holder.node);
        }
      }
      return false;
    });
  }

  /** The store (a broker) chose the block: account it like one the engine picked. */
  private async leaseBlockPickedByStore(ps: PoolState, node: string): Promise<boolean> {
    const l = await this.store.leaseAnyBlock!(ps.pool.name, node, this.now());
    if (!l) return false;
    let b: BlockState | undefined;
    try {
      b = this.blockFor(ps, parseIp(l.cidr.split('/')[0]!).value);
    } catch {
      b = undefined;
    }
    if (b?.cidrText !== l.cidr) {
      throw new StraitError('INVALID_POOL', `block ${l.cidr} leased for pool "${ps.pool.name}" is not a /${ps.pool.blockPrefix} block of ${formatCidr(ps.pool.subnet)}`, { pool: ps.pool.name, cidr: l.cidr });
    }
    b.emptySince = this.now();
    this.noteLease(ps, b, node);
    return true;
  }

  private async resyncPool(ps: PoolState): Promise<void> {
    const fresh = await this.store.list({ pool: ps.pool.name });
    const freshSet = new Set(fresh.map((r) => r.address));
    for (const e of [...this.records.values()]) if (e.rec.pool === ps.pool.name && !freshSet.has(e.rec.address)) this.cacheRemove(e.rec.address);
    for (const r of fresh) this.cacheAdd(r);
    await this.reloadLeases();
  }

  /** Frees (or, for a StatefulSet, parks) one record in the store and the cache. */
  private async releaseRecord(r: AllocationRecord, forget = false): Promise<boolean> {
    if (r.sticky && r.owner && !forget) {
      const parked: AllocationRecord = { ...r, ownerKey: parkedOwnerKey(r.sticky), updatedAt: this.now() };
      delete parked.owner;
      if (!(await this.store.replace(r.address, r.ownerKey, parked))) return false;
      this.cacheAdd(parked);
      return true;
    }
    if (!(await this.store.replace(r.address, r.ownerKey))) {
      // Gone or changed hands in the store: the cache is stale; trust the store.
      const cur = await this.store.get(r.address);
      if (cur) this.cacheAdd(cur);
      else this.cacheRemove(r.address);
      return false;
    }
    this.cacheRemove(r.address);
    return true;
  }

  /**
   * Releases what this owner (container id + interface) holds. Idempotent: releasing twice, or an owner that holds
   * nothing, resolves to an empty list. A late DEL of an old sandbox does not free the address its pod's new
   * sandbox now holds (matched by container id). Resolves to the records released or parked.
   */
  async release(owner: Owner): Promise<AllocationRecord[]> {
    validateOwner(owner);
    return this.ownerLocks.run(ownerKey(owner), async () => {
      await this.sync();
      const addrs = [...(this.byContainer.get(ctrKey(owner.containerId, owner.ifName)) ?? [])];
      const out: AllocationRecord[] = [];
      for (const a of addrs) {
        const r = this.records.get(a)?.rec;
        if (r && (await this.releaseRecord(r))) out.push(r);
      }
      return out;
    });
  }

  /** The owner's current addresses, verified against the store; undefined if it holds none. */
  async check(owner: Owner): Promise<AllocationResult | undefined> {
    validateOwner(owner);
    await this.sync();
    const addrs = [...(this.byContainer.get(ctrKey(owner.containerId, owner.ifName)) ?? [])];
    const held: AllocationRecord[] = [];
    for (const a of addrs) {
      const r = await this.store.get(a);
      if (r?.owner?.containerId === owner.containerId && r.owner.ifName === owner.ifName) held.push(r);
    }
    return held.length ? this.result(held, ['owner holds these addresses']) : undefined;
  }

  /** All records in the cache (copy), e.g. for GC views and tests. */
  async allocations(): Promise<AllocationRecord[]> {
    await this.sync();
    return [...this.records.values()].map((e) => structuredClone(e.rec));
  }

  /** The GC plan for the given live set (pure; nothing changes). */
  async planGc(live: LiveSet, graceMs: number, now = this.now()): Promise<GcPlan> {
    return planGarbageCollection(await this.allocations(), live, now, graceMs);
  }

  /** Executes the GC plan: orphans are released (StatefulSet ones parked), unpinned StatefulSet addresses freed. */
  async collectGarbage(live: LiveSet, graceMs: number, now = this.now()): Promise<GcPlan> {
    const plan = await this.planGc(live, graceMs, now);
    for (const r of plan.orphans) {
      if (r.owner) await this.release(r.owner);
    }
    for (const r of plan.unpin) {
      if (await this.store.replace(r.address, r.ownerKey)) this.cacheRemove(r.address);
    }
    return plan;
  }

  /** Leased blocks and their usage. */
  blockUsage(): BlockUsage[] {
    const out: BlockUsage[] = [];
    for (const ps of this.pools.values())
      for (const [node, blocks] of ps.byNode)
        for (const b of blocks) out.push({ pool: ps.pool.name, cidr: b.cidrText, node, used: b.used, emptySince: b.emptySince });
    return out;
  }

  /** Returns blocks empty for at least `graceMs` to the pool. Resolves to the blocks released. */
  async releaseEmptyBlocks(graceMs: number, now = this.now()): Promise<BlockUsage[]> {
    await this.sync();
    const done: BlockUsage[] = [];
    for (const u of planBlockRelease(this.blockUsage(), now, graceMs)) {
      const ps = this.pools.get(u.pool)!;
      const list = ps.byNode.get(u.node) ?? [];
      const b = list.find((x) => x.cidrText === u.cidr);
      // Re-check synchronously: an allocation may have marked an address since the plan was made.
      if (!b || b.used > 0) continue;
      ps.byNode.set(u.node, list.filter((x) => x !== b));
      ps.leases.delete(u.cidr);
      try {
        await this.store.releaseBlock(u.pool, u.cidr, u.node);
      } catch (e) {
        this.noteLease(ps, b, u.node);
        throw e;
      }
      done.push(u);
    }
    return done;
  }

  /** Per-pool totals, used and free counts, and leased blocks. */
  async usage(): Promise<PoolUsage[]> {
    await this.sync();
    const used = new Map<string, number>();
    for (const e of this.records.values()) if (e.ps && e.usable) used.set(e.ps.pool.name, (used.get(e.ps.pool.name) ?? 0) + 1);
    return [...this.pools.values()].map((ps) => {
      const u = used.get(ps.pool.name) ?? 0;
      const total = Number(ps.pool.total);
      const blocks: Record<string, string[]> = {};
      for (const [node, list] of ps.byNode) blocks[node] = list.map((b) => b.cidrText);
      return { pool: ps.pool.name, family: ps.pool.family, total, used: u, free: total - u, blocks };
    });
  }
}
