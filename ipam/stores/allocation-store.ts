import type { IpFamily } from '../ip-address.js';
import type { Owner } from '../owner.js';

/** One address held by one owner. Keyed by `address` alone: an address is never held twice, whatever the pool. */
export interface AllocationRecord {
  /** Canonical address text, no prefix. */
  address: string;
  family: IpFamily;
  pool: string;
  /** The idempotency key (see `ownerKey()`); `sticky:<key>` while a StatefulSet address is parked. */
  ownerKey: string;
  /** Who holds it; absent while parked. */
  owner?: Owner;
  /** StatefulSet binding key (`ns/name/ordinal/ifName`): survives the pod, freed when the StatefulSet is gone. */
  sticky?: string;
  /** Block (CIDR) the address was allocated from, for block accounting. */
  block?: string;
  /** Milliseconds since the epoch of the last change (allocation, takeover or parking); GC grace counts from it. */
  updatedAt: number;
}

/** A block of a pool leased to one node. Keyed by (pool, cidr). */
export interface BlockLease {
  pool: string;
  cidr: string;
  node: string;
  leasedAt: number;
}

/**
 * The durable truth of allocations and block leases. Implementations: `MemoryAllocationStore` (tests, broker
 * fakes), `FileAllocationStore` (standalone node), and the broker's Redis store. All pass
 * `runAllocationStoreConformance` in `testing/`. The engine takes blocks through a `BlockLeaser`; its default,
 * `LocalBlockLeaser`, uses the block calls below (a broker-backed node records the broker's leases in them too).
 *
 * Contract for every implementation:
 * - Each method is atomic on its own; a reservation, lease or replacement is durable (as far as the backend is)
 *   before the promise resolves. A deletion may become durable lazily: losing one in a crash only keeps an address
 *   or block taken until GC, it never lets one be held twice.
 * - Taken is a value: `reserve`, `replace` and `leaseBlock` resolve `false` when someone else holds the key and
 *   throw only on real failures (I/O, connection).
 * - Concurrent calls from any number of callers never give one address (or block) to two holders.
 */
export interface AllocationStore {
  /**
   * Holds `record.address` for `record.ownerKey`. Resolves true when the address is now held by that owner key
   * (including when it already was: idempotent; the stored record is then left unchanged), false when another owner
   * key holds it (nothing changes).
   */
  reserve(record: AllocationRecord): Promise<boolean>;

  /**
   * Compare-and-swap on one address: only if it is currently held by `expectedOwnerKey`, replace the record with
   * `next` (same address), or delete it when `next` is undefined. Resolves false if the address is free or held by
   * another key. Used for release (delete), StatefulSet parking and takeover, and refreshing the container id.
   */
  replace(address: string, expectedOwnerKey: string, next?: AllocationRecord): Promise<boolean>;

  get(address: string): Promise<AllocationRecord | undefined>;

  /** All records matching every given filter field. */
  list(filter?: { pool?: string; ownerKey?: string; sticky?: string }): Promise<AllocationRecord[]>;

  /**
   * Leases block (`lease.pool`, `lease.cidr`) to `lease.node`. True if the node now holds it (idempotent), false if
   * another node does.
   */
  leaseBlock(lease: BlockLease): Promise<boolean>;

  /** Returns the block if `node` holds it; true if something was removed. Idempotent. */
  releaseBlock(pool: string, cidr: string, node: string): Promise<boolean>;

  listBlocks(filter?: { pool?: string; node?: string }): Promise<BlockLease[]>;

  /** Releases resources (file handles, connections). The store is unusable afterwards. */
  close(): Promise<void>;
}
