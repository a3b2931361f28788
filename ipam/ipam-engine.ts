import { StraitError } from '../api/index.js';
import { AllocationIndex } from './allocation-index.js';
import type { AllocationRequest, AllocationResult, PoolRejection } from './allocation-request.js';
import { allocationResult } from './allocation-result.js';
import type { BlockLeaser } from './block-leaser.js';
import { BlockLedger, type PoolBlocks } from './block-ledger.js';
import { planBlockRelease, planGarbageCollection, type BlockUsage, type GcPlan, type LiveSet } from './gc-plan.js';
import { formatIp, type IpFamily } from './ip-address.js';
import { KeyedMutex } from './keyed-mutex.js';
import { LocalBlockLeaser } from './local-block-leaser.js';
import type { IpamConfig } from './model.js';
import { ownerKey, stickyKey, validateOwner, type Owner } from './owner.js';
import { noPoolFits, selectPools } from './pool-selection.js';
import { compileIpamConfig, type CompiledPool } from './pool-validation.js';
import { ResyncThrottle } from './resync-throttle.js';
import { parkedRecord, parksOnRelease, planStickyTakeover } from './sticky-binding.js';
import type { StickyAddressLeaser } from './sticky-address-leaser.js';
import type { AllocationRecord, AllocationStore } from './stores/allocation-store.js';

export interface IpamEngineOptions {
  /** The durable truth of allocations (and, with the default leaser, of block leases). */
  store: AllocationStore;
  config: IpamConfig;
  /** Where blocks come from; default `LocalBlockLeaser` over `store` (standalone: the node takes any free block). */
  blockLeaser?: BlockLeaser;
  /**
   * Where StatefulSet addresses are bound when the store is this node's own (broker mode: the broker), so an ordinal
   * keeps its address on any node. Without it the binding is in `store` (every engine sharing the store sees it).
   */
  stickyLeaser?: StickyAddressLeaser;
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

/**
 * The IPAM engine the node agent calls: an orchestrator over pool selection (`selectPools`), the block ledger
 * (blocks, their usage and leases), the allocation index (the cache of the store's records), the StatefulSet
 * takeover plan (`sticky-binding.ts`), a `BlockLeaser` and the `AllocationStore`. The caches are for speed; the
 * store stays the arbiter: every address is reserved in the store (atomically, durably) before it is returned, and
 * an address the store says is taken is skipped. Safe for any number of concurrent calls.
 *
 * - `allocate(owner, request)`: idempotent per owner (same owner → same addresses, one per family).
 * - `release(owner)`: idempotent; StatefulSet addresses are parked for the next pod of the same ordinal.
 * - `check(owner)`: the owner's current result, verified against the store, or undefined.
 * - `collectGarbage(live)`, `releaseEmptyBlocks()`: housekeeping, both with grace periods.
 */
export class IpamEngine {
  private readonly store: AllocationStore;
  private readonly leaser: BlockLeaser;
  private readonly stickyLeaser: StickyAddressLeaser | undefined;
  private readonly now: () => number;
  private readonly resync: ResyncThrottle;
  private ledger: BlockLedger;
  private readonly index: AllocationIndex;
  private readonly ownerLocks = new KeyedMutex();
  private readonly leaseLocks = new KeyedMutex();
  private ready: Promise<void> | undefined;
  private config: IpamConfig;

  /** Validates the config at once (throws INVALID_POOL, POOL_OVERLAP, ...); does no I/O. */
  constructor(opts: IpamEngineOptions) {
    this.store = opts.store;
    this.leaser = opts.blockLeaser ?? new LocalBlockLeaser(opts.store);
    this.stickyLeaser = opts.stickyLeaser;
    this.now = opts.now ?? Date.now;
    this.resync = new ResyncThrottle(opts.resyncIntervalMs ?? 1000);
    this.config = opts.config;
    this.ledger = new BlockLedger(compileIpamConfig(opts.config), this.now);
    this.index = new AllocationIndex((r) => this.ledger.place(r.address, r.pool), this.now);
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
    this.ledger = new BlockLedger(compiled, this.now);
    await this.reloadLeases();
    this.index.replaceAll();
  }

  getConfig(): IpamConfig {
    return this.config;
  }

  private async load(): Promise<void> {
    this.index.clear();
    this.ledger.clear();
    await this.reloadLeases();
    for (const r of await this.store.list()) this.index.add(r);
  }

  private async reloadLeases(): Promise<void> {
    this.ledger.setLeases(await this.leaser.list());
  }

  private result(records: AllocationRecord[], explanation: string[]): AllocationResult {
    return allocationResult(records, (name) => this.ledger.compiled.get(name), explanation);
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
      const existing = this.index.ofOwner(key);
      if (existing.length > 0) return this.result(await this.refreshContainer(existing, owner), ['owner already holds its addresses']);
      const selection = selectPools(this.ledger.compiled, owner.ifName, owner.namespace, request);
      const explanation = [...selection.explanation];
      const got: AllocationRecord[] = [];
      const tookOver = new Set<string>();
      const sticky = stickyKey(owner);
      try {
        for (const fam of selection.families) {
          const rejected: PoolRejection[] = [...fam.rejected];
          let rec: AllocationRecord | undefined;
          if (sticky) {
            rec = await this.takeSticky(owner, key, sticky, fam.family, fam.candidates);
            if (rec) tookOver.add(rec.address);
            if (rec) explanation.push(`${fam.family}: StatefulSet ${sticky} keeps ${rec.address} from pool "${rec.pool}"`);
          }
          for (const pool of rec ? [] : fam.candidates) {
            if (sticky && this.stickyLeaser) rec = await this.leaseShared(this.ledger.get(pool.name)!, owner, key, sticky, explanation);
            if (rec) {
              tookOver.add(rec.address);
              explanation.push(`${fam.family}: StatefulSet ${sticky} holds ${rec.address} from pool "${pool.name}" (bound at the broker, on any node)`);
              break;
            }
            rec = await this.allocateInPool(this.ledger.get(pool.name)!, owner, key, sticky, request.node.name);
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

  /** The owner's records with its current container id (a re-created sandbox of a pod keyed by pod uid). */
  private async refreshContainer(existing: AllocationRecord[], owner: Owner): Promise<AllocationRecord[]> {
    const out: AllocationRecord[] = [];
    for (const r of existing) {
      if (r.owner?.containerId !== owner.containerId) {
        const next: AllocationRecord = { ...r, owner: { ...owner }, updatedAt: this.now() };
        if (await this.store.replace(r.address, r.ownerKey, next)) {
          this.index.add(next);
          out.push(next);
          continue;
        }
      }
      out.push(r);
    }
    return out;
  }

  /** Takes over the address bound to a StatefulSet ordinal, if it is in one of the candidate pools. */
  private async takeSticky(owner: Owner, key: string, sticky: string, family: IpFamily, candidates: CompiledPool[]): Promise<AllocationRecord | undefined> {
    // A lost compare-and-swap means another pod of the ordinal (or GC) moved first: look again, a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      const plan = planStickyTakeover(await this.store.list({ sticky }), family, candidates, owner, key, this.now());
      switch (plan.kind) {
        case 'none':
          return undefined;
        case 'unbind':
          if (plan.free && (await this.store.replace(plan.free.address, plan.free.ownerKey))) {
            this.index.remove(plan.free.address);
            await this.stickyLeaser?.release(plan.free.pool, plan.free.address, sticky);
          }
          return undefined;
        case 'held':
          return plan.record;
        case 'take':
          if (await this.store.replace(plan.from.address, plan.from.ownerKey, plan.next)) {
            this.index.add(plan.next);
            return plan.next;
          }
      }
    }
    return undefined;
  }

  /**
   * The address bound to a StatefulSet ordinal by the shared sticky leaser (the broker), reserved in this node's
   * store. Undefined (the caller allocates from the node's blocks) when the leaser has none to give or hands out an
   * address this node's pool may not use.
   */
  private async leaseShared(p: PoolBlocks, owner: Owner, key: string, sticky: string, explanation: string[]): Promise<AllocationRecord | undefined> {
    const address = await this.stickyLeaser!.lease({ pool: p.pool.name, family: p.pool.family, sticky });
    if (!address) {
      explanation.push(`${p.pool.family}: no shared address for StatefulSet ${sticky} in pool "${p.pool.name}": one from this node's blocks (sticky on this node only)`);
      return undefined;
    }
    const at = this.ledger.place(address, p.pool.name);
    if (!at || at.pool !== p || !at.usable) {
      explanation.push(`${p.pool.family}: shared address ${address} for ${sticky} is not usable in pool "${p.pool.name}" here: one from this node's blocks`);
      return undefined;
    }
    const rec: AllocationRecord = {
      address,
      family: p.pool.family,
      pool: p.pool.name,
      ownerKey: key,
      owner: { ...owner },
      block: at.block.cidrText,
      sticky,
      updatedAt: this.now(),
    };
    if (await this.store.reserve(rec)) {
      this.index.add(rec, at);
      return rec;
    }
    // Held here by someone else: only an older record of this ordinal can be (takeSticky moves those); never share.
    const holder = await this.store.get(address);
    if (holder) this.index.add(holder);
    explanation.push(`${p.pool.family}: shared address ${address} for ${sticky} is held here by ${holder?.ownerKey ?? 'someone'}: one from this node's blocks`);
    return undefined;
  }

  private async allocateInPool(p: PoolBlocks, owner: Owner, key: string, sticky: string | undefined, node: string): Promise<AllocationRecord | undefined> {
    let resynced = false;
    for (;;) {
      const r = await this.reserveInNodeBlocks(p, owner, key, sticky, node);
      if (r) return r;
      if (await this.leaseNewBlock(p, node)) continue;
      // Nothing free as far as the cache knows; another process may have freed addresses or blocks. Look once.
      if (resynced || !this.resync.tryResync(p.pool.name, this.now())) return undefined;
      resynced = true;
      await this.resyncPool(p);
    }
  }

  private async reserveInNodeBlocks(p: PoolBlocks, owner: Owner, key: string, sticky: string | undefined, node: string): Promise<AllocationRecord | undefined> {
    for (const b of p.nodeBlocks(node)) {
      for (let o = b.findFree(); o >= 0; o = b.findFree()) {
        // Mark before awaiting so concurrent allocations in this process never pick the same address.
        b.markUsed(o);
        const rec: AllocationRecord = {
          address: formatIp(p.pool.family, b.valueAt(o)),
          family: p.pool.family,
          pool: p.pool.name,
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
          this.index.add(rec, { pool: p, block: b, offset: o, usable: true });
          return rec;
        }
        // Taken by another process: learn who holds it (stays marked used either way).
        const holder = await this.store.get(rec.address);
        if (holder) this.index.add(holder);
      }
    }
    return undefined;
  }

  /** Leases one more block of the pool to `node` through the leaser. False if none is left. */
  private async leaseNewBlock(p: PoolBlocks, node: string): Promise<boolean> {
    return this.leaseLocks.run(`${p.pool.name} ${node}`, async () => {
      // Another caller may have leased while we waited.
      if (p.hasFreeFor(node)) return true;
      const lease = await this.leaser.lease({
        pool: p.pool.name,
        node,
        leasedAt: this.now(),
        candidates: p.unleasedCidrs(),
        heldElsewhere: (l) => {
          const b = p.blockNamed(l.cidr);
          if (b) p.noteLease(b, l.node);
        },
      });
      if (!lease) return false;
      this.ledger.accept(p, lease, this.now());
      return true;
    });
  }

  private async resyncPool(p: PoolBlocks): Promise<void> {
    const fresh = await this.store.list({ pool: p.pool.name });
    this.index.removeAbsent(p.pool.name, new Set(fresh.map((r) => r.address)));
    for (const r of fresh) this.index.add(r);
    await this.reloadLeases();
  }

  /** Frees (or, for a StatefulSet, parks) one record in the store and the cache. */
  private async releaseRecord(r: AllocationRecord, forget = false): Promise<boolean> {
    if (parksOnRelease(r, forget)) {
      const parked = parkedRecord(r, this.now());
      if (!(await this.store.replace(r.address, r.ownerKey, parked))) return false;
      this.index.add(parked);
      return true;
    }
    if (!(await this.store.replace(r.address, r.ownerKey))) {
      // Gone or changed hands in the store: the cache is stale; trust the store.
      const cur = await this.store.get(r.address);
      if (cur) this.index.add(cur);
      else this.index.remove(r.address);
      return false;
    }
    this.index.remove(r.address);
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
      const out: AllocationRecord[] = [];
      for (const a of this.index.addressesOf(owner.containerId, owner.ifName)) {
        const r = this.index.get(a);
        if (r && (await this.releaseRecord(r))) out.push(r);
      }
      return out;
    });
  }

  /** The owner's current addresses, verified against the store; undefined if it holds none. */
  async check(owner: Owner): Promise<AllocationResult | undefined> {
    validateOwner(owner);
    await this.sync();
    const held: AllocationRecord[] = [];
    for (const a of this.index.addressesOf(owner.containerId, owner.ifName)) {
      const r = await this.store.get(a);
      if (r?.owner?.containerId === owner.containerId && r.owner.ifName === owner.ifName) held.push(r);
    }
    return held.length ? this.result(held, ['owner holds these addresses']) : undefined;
  }

  /** All records in the cache (copy), e.g. for GC views and tests. */
  async allocations(): Promise<AllocationRecord[]> {
    await this.sync();
    return this.index.all().map((r) => structuredClone(r));
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
      if (await this.store.replace(r.address, r.ownerKey)) {
        this.index.remove(r.address);
        // The StatefulSet is gone: its binding goes for every node (an address of the node's own blocks has none).
        if (r.sticky) await this.stickyLeaser?.release(r.pool, r.address, r.sticky);
      }
    }
    return plan;
  }

  /** Leased blocks and their usage. */
  blockUsage(): BlockUsage[] {
    return this.ledger.usage();
  }

  /** Returns blocks empty for at least `graceMs` to the pool. Resolves to the blocks released. */
  async releaseEmptyBlocks(graceMs: number, now = this.now()): Promise<BlockUsage[]> {
    await this.sync();
    const done: BlockUsage[] = [];
    for (const u of planBlockRelease(this.blockUsage(), now, graceMs)) {
      const p = this.ledger.get(u.pool)!;
      const b = p.nodeBlock(u.node, u.cidr);
      // Re-check synchronously: an allocation may have marked an address since the plan was made.
      if (!b || b.used > 0) continue;
      p.forgetLease(b, u.node);
      try {
        await this.leaser.release(u.pool, u.cidr, u.node);
      } catch (e) {
        p.noteLease(b, u.node);
        throw e;
      }
      done.push(u);
    }
    return done;
  }

  /** Per-pool totals, used and free counts, and leased blocks. */
  async usage(): Promise<PoolUsage[]> {
    await this.sync();
    const used = this.index.usedPerPool();
    return [...this.ledger.all()].map((p) => {
      const u = used.get(p.pool.name) ?? 0;
      const total = Number(p.pool.total);
      return { pool: p.pool.name, family: p.pool.family, total, used: u, free: total - u, blocks: p.leasesByNode() };
    });
  }
}
