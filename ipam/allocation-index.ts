import type { Placement } from './block-ledger.js';
import type { AllocationRecord } from './stores/allocation-store.js';

/** A cached record with where it sits, so the hot path never re-parses addresses. */
interface Entry {
  rec: AllocationRecord;
  /** Absent when no configured pool holds the address (it still counts as taken, in no block). */
  at: Placement | undefined;
}

const ifaceKey = (containerId: string, ifName: string): string => `${containerId}/${ifName}`;

function addTo(index: Map<string, Set<string>>, key: string, address: string): void {
  let s = index.get(key);
  if (!s) index.set(key, (s = new Set()));
  s.add(address);
}

function removeFrom(index: Map<string, Set<string>>, key: string, address: string): void {
  const s = index.get(key);
  s?.delete(address);
  if (s?.size === 0) index.delete(key);
}

/**
 * The engine's cache of the store's records, indexed by address, owner key and sandbox interface (container id +
 * ifName), and kept in step with block usage: adding a record marks its address used in its block, removing it
 * marks it free. Pure (no I/O); where an address sits comes from `place` (the block ledger).
 */
export class AllocationIndex {
  private readonly records = new Map<string, Entry>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly byInterface = new Map<string, Set<string>>();

  constructor(
    private readonly place: (r: AllocationRecord) => Placement | undefined,
    private readonly now: () => number,
  ) {}

  get(address: string): AllocationRecord | undefined {
    return this.records.get(address)?.rec;
  }

  /**
   * Adds or updates a record. `at` is its known place (a fresh allocation); without it the place is kept from the
   * record it replaces, or computed.
   */
  add(r: AllocationRecord, at?: Placement): void {
    const prev = this.records.get(r.address);
    if (prev) this.unindex(prev.rec);
    const entry: Entry = { rec: r, at: at ?? (prev ? prev.at : this.place(r)) };
    this.records.set(r.address, entry);
    entry.at?.block.markUsed(entry.at.offset);
    addTo(this.byOwner, r.ownerKey, r.address);
    if (r.owner) addTo(this.byInterface, ifaceKey(r.owner.containerId, r.owner.ifName), r.address);
  }

  /** Drops a record and frees its address in its block (for reuse only if the pool may still hand it out). */
  remove(address: string): void {
    const e = this.records.get(address);
    if (!e) return;
    this.unindex(e.rec);
    this.records.delete(address);
    e.at?.block.markFree(e.at.offset, e.at.usable, this.now());
  }

  private unindex(r: AllocationRecord): void {
    removeFrom(this.byOwner, r.ownerKey, r.address);
    if (r.owner) removeFrom(this.byInterface, ifaceKey(r.owner.containerId, r.owner.ifName), r.address);
  }

  /** The records held under an owner key. */
  ofOwner(ownerKey: string): AllocationRecord[] {
    const s = this.byOwner.get(ownerKey);
    if (!s) return [];
    return [...s].flatMap((a) => this.records.get(a)?.rec ?? []);
  }

  /** Addresses held by one sandbox interface (a snapshot: safe to iterate while records change). */
  addressesOf(containerId: string, ifName: string): string[] {
    return [...(this.byInterface.get(ifaceKey(containerId, ifName)) ?? [])];
  }

  /** Every record (a snapshot of the references; callers copy before handing them out). */
  all(): AllocationRecord[] {
    return [...this.records.values()].map((e) => e.rec);
  }

  /** Places every record again (the pools changed: blocks are the new ledger's). */
  replaceAll(): void {
    for (const e of [...this.records.values()]) {
      this.records.delete(e.rec.address);
      this.add(e.rec);
    }
  }

  /** Drops the records of `pool` that the store no longer has (`present`: the addresses it has). */
  removeAbsent(pool: string, present: ReadonlySet<string>): void {
    for (const e of [...this.records.values()]) if (e.rec.pool === pool && !present.has(e.rec.address)) this.remove(e.rec.address);
  }

  clear(): void {
    this.records.clear();
    this.byOwner.clear();
    this.byInterface.clear();
  }

  /** Held addresses per pool, counting only addresses the pool may hand out (as its `used`). */
  usedPerPool(): Map<string, number> {
    const used = new Map<string, number>();
    for (const { at } of this.records.values()) if (at?.usable) used.set(at.pool.pool.name, (used.get(at.pool.pool.name) ?? 0) + 1);
    return used;
  }
}
