import type { BlockLease } from './stores/allocation-store.js';

/** What the engine asks a leaser for when a node's blocks of a pool are full. */
export interface BlockLeaseRequest {
  pool: string;
  node: string;
  /** The lease's `leasedAt` (the engine's clock). */
  leasedAt: number;
  /**
   * The pool's blocks the engine would take, in its order: not leased to anyone as far as it knows, with a free
   * address. Lazy (a /64 is never enumerated). A leaser that picks the block itself (the broker) ignores it.
   */
  candidates: Iterable<string>;
  /** Tells the engine that a candidate is held by another node (`lease`), so it is skipped from now on. */
  heldElsewhere(lease: BlockLease): void;
}

/**
 * Where a node's address blocks come from. The engine leases a block (a /26 of a pool, by default) before it hands
 * out addresses from it, and returns it once it stayed empty for the grace period; allocations inside a leased block
 * never involve the leaser, so pod ADDs do not wait for it.
 *
 * - `LocalBlockLeaser` (ipam/): the store's own `leaseBlock` over the engine's candidates, one CIDR after another;
 *   for a standalone node (every block of its pools is the node's to take) and for engines sharing one store.
 * - `BrokerBlockLeaser` (member-agent/): the broker picks the block and the node records it in its local store.
 *
 * Contract: a lease is durable (as far as the backend is) before `lease` resolves, and no block is ever leased to
 * two nodes. Exhaustion is a value: `lease` resolves undefined when no block is left for the node (the engine then
 * reports POOL_EXHAUSTED with its per-pool explanation) and throws only on real failures. The engine checks that a
 * returned block is one of the pool's blocks (INVALID_POOL otherwise).
 */
export interface BlockLeaser {
  /** Leases one more block of `req.pool` to `req.node`; resolves the lease now held, or undefined if none is left. */
  lease(req: BlockLeaseRequest): Promise<BlockLease | undefined>;
  /** Returns the block if `node` holds it; true if something was removed. Idempotent. */
  release(pool: string, cidr: string, node: string): Promise<boolean>;
  /** The leases held, as the engine loads them at start, after a reconfigure and when a pool looks full. */
  list(filter?: { pool?: string; node?: string }): Promise<BlockLease[]>;
}
