import type { StoreCore } from './core.js';

/** What one owner-GC run did, and how much it had to look at. */
export interface OwnerGcRun {
  blocks: number;
  addresses: number;
  /** leases added to the holder index first (only on the first run over a store written before the index) */
  indexed: number;
}

/** Names one owner-GC script call touches at most (a call holds Redis for about a millisecond per hundred). */
export const OWNER_GC_BUDGET = 500;
/** Leases per page when the holder index is built over an existing store. */
const INDEX_PAGE = 1000;

/**
 * The owner GC: returns the leases of nodes and owners missing from their cluster's reported sets for longer than
 * the grace. It never lists leases: `store/lua/includes/holders.lua` keeps, with every lease and release, which name
 * holds what, and `heartbeat.lua` keeps the names that hold something but are missing; a run walks those only (see
 * `owner-gc.lua`), so its work grows with the names that went missing, not with the leases.
 */
export class OwnerGc {
  constructor(private readonly core: StoreCore) {}

  async collect(nowMs: number, graceMs: number, budget = OWNER_GC_BUDGET): Promise<OwnerGcRun> {
    const out: OwnerGcRun = { blocks: 0, addresses: 0, indexed: await this.indexHolders() };
    for (;;) {
      const r = await this.core.script('ownerGc', undefined, this.keys(), [String(nowMs), String(graceMs), String(budget)]);
      out.blocks += Number(r[1] ?? 0);
      out.addresses += Number(r[2] ?? 0);
      if (r[3] !== '1') return out;
    }
  }

  private keys(): Record<string, string> {
    const k = this.core.keys;
    const { lastReported, liveOf } = k.holderIndex();
    return { ...k.blockRelease(), ...k.addressRelease(), lastReported, liveOf };
  }

  /**
   * Builds the holder index over leases written before it existed (a store from an older version), once: pages of
   * HSCAN over the lease hashes, each page indexed by one idempotent script that re-reads its leases, so leases and
   * releases may go on meanwhile. Leases written since carry their own index entries. Returns the leases indexed (0
   * once `holdidx` is set). Delete `holdidx` to run it again (e.g. after old replicas leased during a rolling upgrade).
   */
  async indexHolders(): Promise<number> {
    const { redis, keys } = this.core;
    if ((await redis.get(keys.holdersIndexed)) !== null) return 0;
    let n = 0;
    for (const [kind, hash] of [['node', keys.objects('Block')], ['owner', keys.objects('AddressLease')]] as const) {
      let cursor = '0';
      do {
        const [next, flat] = await redis.hscan(hash, cursor, 'COUNT', INDEX_PAGE);
        cursor = next;
        const targets = flat.filter((_, i) => i % 2 === 0);
        if (targets.length > 0) {
          const ks = { blocks: keys.objects('Block'), addressLeases: keys.objects('AddressLease'), ...keys.holderIndex() };
          n += Number((await this.core.script('indexHolders', undefined, ks, [kind, ...targets]))[1] ?? 0);
        }
      } while (cursor !== '0');
    }
    await redis.set(keys.holdersIndexed, String(Date.now()));
    return n;
  }
}
