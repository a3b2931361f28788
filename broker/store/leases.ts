import type { AddressLease, Block, List } from '../../api/index.js';
import { now, type Idem, type StoreCore } from './core.js';
import { objectOf, scriptError } from './script-errors.js';

/** Blocks and addresses of pools leased to clusters, one or a batch in one atomic step, and released. */
export class LeaseStore {
  constructor(private readonly core: StoreCore) {}

  /**
   * One block: a batch of one through the batch script (one scan and one lease path for both). The error context
   * has no `requested`, so a full pool answers as a single lease always did ("has no free block").
   */
  async leaseBlock(pool: string, cluster: string, node: string, idem?: Idem): Promise<Block> {
    const r = await this.core.run('leaseBlocks', idem, pool, cluster, now(), 1, node);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'block', name: pool, pool, cluster });
    // OK <json> is the reply the single-lease script recorded under an Idempotency-Key before an upgrade (kept 10
    // minutes); the batch answers OK <rev> <json>.
    return JSON.parse((r.length === 2 ? r[1] : r[2]) ?? '{}') as Block;
  }

  /** One block per entry of `nodes`, in one atomic step; all or nothing (POOL_EXHAUSTED changes nothing). */
  async leaseBlocks(pool: string, cluster: string, nodes: readonly string[], idem?: Idem): Promise<List<Block>> {
    const r = await this.core.run('leaseBlocks', idem, pool, cluster, now(), nodes.length, ...nodes);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'block', name: pool, pool, cluster, requested: nodes.length });
    return { items: r.slice(2).map((j) => JSON.parse(j) as Block), resourceVersion: r[1] ?? '' };
  }

  /**
   * One address per owner, in one atomic step; all or nothing (POOL_EXHAUSTED and ALREADY_EXISTS change nothing);
   * owners that hold an address of the pool get it back. Items are in the order of `owners`.
   */
  async leaseAddresses(pool: string, owners: readonly string[], cluster: string, idem?: Idem): Promise<List<AddressLease>> {
    const r = await this.core.run('leaseAddresses', idem, pool, cluster, now(), owners.length, ...owners);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'address', name: pool, pool, cluster, requested: owners.length });
    return { items: r.slice(2).map((j) => JSON.parse(j) as AddressLease), resourceVersion: r[1] ?? '' };
  }

  async releaseBlock(id: string, requiredCluster = '', idem?: Idem): Promise<Block> {
    const r = await this.core.run('releaseBlock', idem, id, requiredCluster);
    return objectOf(r, { kind: 'Block', name: id }) as Block;
  }

  /** `reserved`: offsets in the pool never to hand out, as first/last pairs (broker/reserved-ips.ts `reservedOffsets`). */
  async leaseAddress(pool: string, owner: string, cluster: string, idem?: Idem, reserved: readonly string[] = []): Promise<{ lease: AddressLease; existing: boolean }> {
    const r = await this.core.run('leaseAddress', idem, pool, owner, cluster, now(), reserved.length / 2, ...reserved);
    return { lease: objectOf(r, { kind: 'address', name: pool, pool, cluster, owner }) as AddressLease, existing: r[0] === 'EXISTING' };
  }

  async releaseAddress(ip: string, requiredCluster = '', idem?: Idem): Promise<AddressLease> {
    const r = await this.core.run('releaseAddress', idem, ip, requiredCluster);
    return objectOf(r, { kind: 'AddressLease', name: ip }) as AddressLease;
  }

}
