import type { IpFamily } from './ip-address.js';

/** What the engine asks for when a StatefulSet ordinal has no address of its own yet. */
export interface StickyLeaseRequest {
  pool: string;
  family: IpFamily;
  /** The ordinal's sticky key, `namespace/statefulset/ordinal/ifName`. */
  sticky: string;
}

/**
 * Where StatefulSet addresses are bound to their ordinal when the engine's store is not shared by every node agent
 * (broker mode: each node keeps its own store). The binding lives where every node agent sees it, so a pod of the
 * ordinal re-created on another node gets the same address. The address is leased outside every node's blocks, so
 * no node hands it to another pod, and it survives the pod: only `release` (the StatefulSet is gone, or the ordinal
 * moved to another pool) gives it back.
 *
 * Contract: `lease` is owner-idempotent (the same sticky key and pool give the same address, on any node) and
 * durable before it resolves; it resolves undefined when the pool has no address to give (the engine then takes one
 * from the node's blocks: sticky on that node only) and throws only on real failures. `release` is idempotent.
 */
export interface StickyAddressLeaser {
  lease(req: StickyLeaseRequest): Promise<string | undefined>;
  release(pool: string, address: string, sticky: string): Promise<void>;
}
