import { StraitError, type BrokerClient } from '../../api/index.js';
import type { StickyAddressLeaser, StickyLeaseRequest } from '../../ipam/index.js';
import type { Logger } from '../../host/index.js';

/** The broker address-lease owner of a StatefulSet ordinal's address: one per cluster and sticky key. */
export const stickyLeaseOwner = (cluster: string, sticky: string): string => `sts:${cluster}:${sticky}`;

/**
 * StatefulSet addresses bound at the broker, so every node agent of the cluster sees the binding: an address lease
 * (`POST /v1/ippools/{pool}/addresses`) whose owner is `sts:<cluster>:<namespace>/<set>/<ordinal>/<ifName>`. The
 * broker answers the same owner with the same address, whichever node asks, and takes addresses outside every
 * leased block (and never leases a block holding one), so no node hands it to another pod. The lease outlives the
 * pod; the node agents' GC releases it when the StatefulSet is gone. Pools without a free address outside the blocks
 * answer undefined: the engine then uses the node's blocks (sticky on that node only) and says so.
 */
export class BrokerStickyLeaser implements StickyAddressLeaser {
  constructor(
    private readonly client: BrokerClient,
    private readonly cluster: string,
    private readonly log: Logger,
  ) {}

  async lease({ pool, sticky }: StickyLeaseRequest): Promise<string | undefined> {
    try {
      const l = await this.client.leaseAddress(pool, { owner: stickyLeaseOwner(this.cluster, sticky), cluster: this.cluster });
      return l.ip;
    } catch (e) {
      if (e instanceof StraitError && e.code === 'POOL_EXHAUSTED') return undefined;
      throw e;
    }
  }

  async release(pool: string, address: string, sticky: string): Promise<void> {
    // Only the ordinal's own lease: an address of the node's blocks (the fallback) has none at the broker.
    const owner = stickyLeaseOwner(this.cluster, sticky);
    const mine = (await this.client.listAddresses({ cluster: this.cluster, pool })).items.find((l) => l.ip === address && l.owner === owner);
    if (!mine) return;
    try {
      await this.client.releaseAddress(address);
      this.log.info({ pool, address, sticky }, 'released the StatefulSet address at the broker (the StatefulSet is gone)');
    } catch (e) {
      if (!(e instanceof StraitError && e.code === 'NOT_FOUND')) throw e;
    }
  }
}
