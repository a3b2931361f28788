import type { AddressLease, Block, List } from '../../api/index.js';
import { KEY } from './keys.js';
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
    const r = await this.leaseBlocksScript(pool, cluster, [node], idem);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'block', name: pool, pool, cluster });
    // OK <json> is the reply the single-lease script recorded under an Idempotency-Key before an upgrade (kept 10
    // minutes); the batch answers OK <rev> <json>.
    return JSON.parse((r.length === 2 ? r[1] : r[2]) ?? '{}') as Block;
  }

  /** One block per entry of `nodes`, in one atomic step; all or nothing (POOL_EXHAUSTED changes nothing). */
  async leaseBlocks(pool: string, cluster: string, nodes: readonly string[], idem?: Idem): Promise<List<Block>> {
    const r = await this.leaseBlocksScript(pool, cluster, nodes, idem);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'block', name: pool, pool, cluster, requested: nodes.length });
    return { items: r.slice(2).map((j) => JSON.parse(j) as Block), resourceVersion: r[1] ?? '' };
  }

  private leaseBlocksScript(pool: string, cluster: string, nodes: readonly string[], idem: Idem | undefined) {
    const k = this.core.keys;
    const { poolBlocks, poolAddressBlocks, poolCursor } = k.pool(pool);
    const keys = { clusters: k.objects('Cluster'), blocks: k.objects('Block'), addressLeases: k.objects('AddressLease'), poolMeta: k.poolMeta, poolBlocks, poolAddressBlocks, poolCursor, rev: k.rev, events: k.events, ...k.holderIndex() };
    return this.core.script('leaseBlocks', idem, keys, [pool, cluster, now(), nodes.length, ...nodes]);
  }

  /**
   * One address per owner, in one atomic step; all or nothing (POOL_EXHAUSTED and ALREADY_EXISTS change nothing);
   * owners that hold an address of the pool get it back. Items are in the order of `owners`.
   */
  /** `reserved`: offsets in the pool never to hand out, as first/last pairs (broker/reserved-ips.ts `reservedOffsets`). */
  async leaseAddresses(pool: string, owners: readonly string[], cluster: string, idem?: Idem, reserved: readonly string[] = []): Promise<List<AddressLease>> {
    const r = await this.leaseAddressesScript(pool, cluster, owners, false, idem, reserved);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'address', name: pool, pool, cluster, requested: owners.length });
    return { items: r.slice(2).map((j) => JSON.parse(j) as AddressLease), resourceVersion: r[1] ?? '' };
  }

  /**
   * One address: a batch of one through the batch script, which answers it as the single lease always was (OK or
   * EXISTING with the lease), so a reply recorded under an Idempotency-Key before the two became one replays alike.
   */
  async leaseAddress(pool: string, owner: string, cluster: string, idem?: Idem, reserved: readonly string[] = []): Promise<{ lease: AddressLease; existing: boolean }> {
    const r = await this.leaseAddressesScript(pool, cluster, [owner], true, idem, reserved);
    return { lease: objectOf(r, { kind: 'address', name: pool, pool, cluster, owner }) as AddressLease, existing: r[0] === 'EXISTING' };
  }

  private leaseAddressesScript(pool: string, cluster: string, owners: readonly string[], single: boolean, idem: Idem | undefined, reserved: readonly string[]) {
    const k = this.core.keys;
    const keys = { clusters: k.objects('Cluster'), addressLeases: k.objects('AddressLease'), blocks: k.objects('Block'), addressMeta: k.addressMeta, poolMeta: k.poolMeta, ...k.pool(pool), rev: k.rev, events: k.events, ...k.holderIndex() };
    return this.core.script('leaseAddresses', idem, keys, [pool, cluster, now(), single ? '1' : '', owners.length, ...owners, reserved.length / 2, ...reserved]);
  }

  async releaseBlock(id: string, requiredCluster = '', idem?: Idem): Promise<Block> {
    const k = this.core.keys;
    const keys = { blocks: k.objects('Block'), poolBlocksOf: k.prefixOf(KEY.poolBlocks), rev: k.rev, events: k.events, ...k.holderRelease() };
    const r = await this.core.script('releaseBlock', idem, keys, [id, requiredCluster]);
    return objectOf(r, { kind: 'Block', name: id }) as Block;
  }

  async releaseAddress(ip: string, requiredCluster = '', idem?: Idem): Promise<AddressLease> {
    const k = this.core.keys;
    const keys = {
      addressLeases: k.objects('AddressLease'),
      addressMeta: k.addressMeta,
      poolMeta: k.poolMeta,
      poolAddressesOf: k.prefixOf(KEY.poolAddresses),
      poolAddressBlocksOf: k.prefixOf(KEY.poolAddressBlocks),
      poolOwnersOf: k.prefixOf(KEY.poolOwners),
      rev: k.rev,
      events: k.events,
      ...k.holderRelease(),
    };
    const r = await this.core.script('releaseAddress', idem, keys, [ip, requiredCluster]);
    return objectOf(r, { kind: 'AddressLease', name: ip }) as AddressLease;
  }
}
