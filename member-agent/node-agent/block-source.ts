import type { AllocationRecord, AllocationStore, BlockLease } from '../../ipam/index.js';

/**
 * Where this node's address blocks come from. The ipam/ engine leases a block (a /26 of a pool, by default)
 * before it hands out addresses from it, through these three calls of its store.
 *
 * - Standalone: the node's own durable store is the block source (every block of the configured pools is the
 *   node's to take).
 * - Broker-backed (`BrokerBlockSource`): the broker picks the block (`leaseAnyBlock`), the node records it in its
 *   local durable store; allocations inside leased blocks stay local, so pod ADDs never wait for the broker.
 */
export type BlockSource = Pick<AllocationStore, 'leaseBlock' | 'releaseBlock' | 'listBlocks' | 'leaseAnyBlock'>;

/** A store that keeps allocations in `local` and takes block leases from `blocks`. */
export function withBlockSource(local: AllocationStore, blocks: BlockSource): AllocationStore {
  if ((blocks as unknown) === local) return local;
  return {
    reserve: (r: AllocationRecord) => local.reserve(r),
    replace: (a: string, k: string, n?: AllocationRecord) => local.replace(a, k, n),
    get: (a: string) => local.get(a),
    list: (f?: { pool?: string; ownerKey?: string; sticky?: string }) => local.list(f),
    leaseBlock: (l: BlockLease) => blocks.leaseBlock(l),
    releaseBlock: (p: string, c: string, n: string) => blocks.releaseBlock(p, c, n),
    listBlocks: (f?: { pool?: string; node?: string }) => blocks.listBlocks(f),
    ...(blocks.leaseAnyBlock ? { leaseAnyBlock: (p: string, n: string, at: number) => blocks.leaseAnyBlock!(p, n, at) } : {}),
    close: () => local.close(),
  };
}
