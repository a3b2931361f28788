import type { BlockLeaseRequest, BlockLeaser } from './block-leaser.js';
import type { AllocationStore, BlockLease } from './stores/allocation-store.js';

/**
 * Leases blocks in a store's own block table: walks the engine's candidates in order and takes the first one the
 * store grants (`leaseBlock` is atomic: one node per block, across every process sharing the store). A candidate
 * another node holds is reported back, so the engine skips it from then on. The engine's default leaser, over its
 * own store.
 */
export class LocalBlockLeaser implements BlockLeaser {
  constructor(private readonly store: Pick<AllocationStore, 'leaseBlock' | 'releaseBlock' | 'listBlocks'>) {}

  async lease(req: BlockLeaseRequest): Promise<BlockLease | undefined> {
    for (const cidr of req.candidates) {
      const lease: BlockLease = { pool: req.pool, cidr, node: req.node, leasedAt: req.leasedAt };
      if (await this.store.leaseBlock(lease)) return lease;
      const holder = (await this.store.listBlocks({ pool: req.pool })).find((l) => l.cidr === cidr);
      if (holder) req.heldElsewhere(holder);
    }
    return undefined;
  }

  release(pool: string, cidr: string, node: string): Promise<boolean> {
    return this.store.releaseBlock(pool, cidr, node);
  }

  list(filter?: { pool?: string; node?: string }): Promise<BlockLease[]> {
    return this.store.listBlocks(filter);
  }
}
