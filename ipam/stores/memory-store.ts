import type { AllocationRecord, AllocationStore, BlockLease } from './allocation-store.js';

// Records and leases are flat JSON apart from `owner` (and its `statefulSet`); copy exactly that deep, so callers
// can never mutate what the store holds (structuredClone is several times slower on this hot path).
function copy<T extends AllocationRecord | BlockLease>(x: T): T {
  const out = { ...x };
  if ('owner' in out && out.owner) {
    out.owner = { ...out.owner };
    if (out.owner.statefulSet) out.owner.statefulSet = { ...out.owner.statefulSet };
  }
  return out;
}

/**
 * The in-memory AllocationStore: the reference semantics of the contract, for tests and single-process tools.
 * Every method completes synchronously inside its promise, so each call is atomic.
 */
export class MemoryAllocationStore implements AllocationStore {
  private readonly records = new Map<string, AllocationRecord>();
  private readonly blocks = new Map<string, BlockLease>();
  private closed = false;

  private open(): void {
    if (this.closed) throw new Error('MemoryAllocationStore is closed');
  }

  async reserve(record: AllocationRecord): Promise<boolean> {
    this.open();
    const cur = this.records.get(record.address);
    if (cur) return cur.ownerKey === record.ownerKey;
    this.records.set(record.address, copy(record));
    return true;
  }

  async replace(address: string, expectedOwnerKey: string, next?: AllocationRecord): Promise<boolean> {
    this.open();
    const cur = this.records.get(address);
    if (!cur || cur.ownerKey !== expectedOwnerKey) return false;
    if (next && next.address !== address) throw new Error(`replace: record address ${next.address} differs from ${address}`);
    if (next) this.records.set(address, copy(next));
    else this.records.delete(address);
    return true;
  }

  async get(address: string): Promise<AllocationRecord | undefined> {
    this.open();
    const r = this.records.get(address);
    return r && copy(r);
  }

  async list(filter: { pool?: string; ownerKey?: string; sticky?: string } = {}): Promise<AllocationRecord[]> {
    this.open();
    return [...this.records.values()]
      .filter((r) => (filter.pool === undefined || r.pool === filter.pool) && (filter.ownerKey === undefined || r.ownerKey === filter.ownerKey) && (filter.sticky === undefined || r.sticky === filter.sticky))
      .map(copy);
  }

  async leaseBlock(lease: BlockLease): Promise<boolean> {
    this.open();
    const key = `${lease.pool} ${lease.cidr}`;
    const cur = this.blocks.get(key);
    if (cur) return cur.node === lease.node;
    this.blocks.set(key, copy(lease));
    return true;
  }

  async releaseBlock(pool: string, cidr: string, node: string): Promise<boolean> {
    this.open();
    const key = `${pool} ${cidr}`;
    if (this.blocks.get(key)?.node !== node) return false;
    this.blocks.delete(key);
    return true;
  }

  async listBlocks(filter: { pool?: string; node?: string } = {}): Promise<BlockLease[]> {
    this.open();
    return [...this.blocks.values()].filter((b) => (filter.pool === undefined || b.pool === filter.pool) && (filter.node === undefined || b.node === filter.node)).map(copy);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
