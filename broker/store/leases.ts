import { StraitError, type AddressLease, type Block, type IPPool, type List, type ReservedIP } from '../../api/index.js';
import { reservedOffsets } from '../reserved-ips.js';
import { now, type Idem, type PreparedKeys, type StoreCore } from './core.js';
import { objectOf, scriptError } from './script-errors.js';

/** Blocks and addresses of pools leased to clusters, one or a batch in one atomic step, and released. */
export class LeaseStore {
  /**
   * The KEYS of each pool's lease calls, in script order, made once per pool (building and ordering them by name
   * on every lease cost more broker time than the rest of the store call). Bounded: pool names come from requests.
   */
  private readonly prepared = new Map<string, { blocks: PreparedKeys; addresses: PreparedKeys }>();

  constructor(private readonly core: StoreCore) {}

  private keysOf(pool: string): { blocks: PreparedKeys; addresses: PreparedKeys } {
    let p = this.prepared.get(pool);
    if (!p) {
      const k = this.core.keys;
      const perPool = k.pool(pool);
      const common = { clusters: k.objects('Cluster'), blocks: k.objects('Block'), addressLeases: k.objects('AddressLease'), poolMeta: k.poolMeta, rev: k.rev, events: k.events, ...k.holderIndex() };
      const { poolBlocks, poolAddressBlocks, poolCursor } = perPool;
      p = {
        blocks: this.core.prepare('leaseBlocks', { ...common, poolBlocks, poolAddressBlocks, poolCursor }),
        addresses: this.core.prepare('leaseAddresses', { ...common, ...perPool, addressMeta: k.addressMeta, poolReserved: k.poolReserved(pool), reservedGen: k.reservedGen }),
      };
      if (this.prepared.size >= 1000) this.prepared.clear();
      this.prepared.set(pool, p);
    }
    return p;
  }

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
    return this.core.runPrepared(this.keysOf(pool).blocks, idem, [pool, cluster, now(), nodes.length, ...nodes]);
  }

  /**
   * One address per owner, in one atomic step; all or nothing (POOL_EXHAUSTED and ALREADY_EXISTS change nothing);
   * owners that hold an address of the pool get it back. Items are in the order of `owners`.
   */
  async leaseAddresses(pool: string, owners: readonly string[], cluster: string, idem?: Idem): Promise<List<AddressLease>> {
    const r = await this.leaseAddressesScript(pool, cluster, owners, false, idem);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'address', name: pool, pool, cluster, requested: owners.length });
    return { items: r.slice(2).map((j) => JSON.parse(j) as AddressLease), resourceVersion: r[1] ?? '' };
  }

  /**
   * One address: a batch of one through the batch script, which answers it as the single lease always was (OK or
   * EXISTING with the lease), so a reply recorded under an Idempotency-Key before the two became one replays alike.
   */
  async leaseAddress(pool: string, owner: string, cluster: string, idem?: Idem): Promise<{ lease: AddressLease; existing: boolean }> {
    const r = await this.leaseAddressesScript(pool, cluster, [owner], true, idem);
    return { lease: objectOf(r, { kind: 'address', name: pool, pool, cluster, owner }) as AddressLease, existing: r[0] === 'EXISTING' };
  }

  /**
   * The address lease script skips the offsets ReservedIPs hold in the pool, which it reads itself (one call per
   * lease). When they are stale or missing (a ReservedIP written or a pool deleted since they were computed; a
   * pool never leased from; a store from before them) it writes nothing and answers NORESERVED: they are computed
   * here and the lease runs again.
   */
  private async leaseAddressesScript(pool: string, cluster: string, owners: readonly string[], single: boolean, idem: Idem | undefined) {
    const keys = this.keysOf(pool).addresses;
    for (let attempt = 0; ; attempt++) {
      const r = await this.core.runPrepared(keys, idem, [pool, cluster, now(), single ? '1' : '', owners.length, ...owners]);
      if (r[0] !== 'NORESERVED' || attempt >= 20) return r;
      await this.fillReserved(pool);
    }
  }

  /**
   * Computes the offsets the ReservedIPs hold in `pool` from one snapshot (reservedGen, the ReservedIPs and the
   * pool, read in one MULTI) and stores them unless a ReservedIP or pool write came since (then again).
   */
  private async fillReserved(pool: string): Promise<void> {
    const k = this.core.keys;
    for (let attempt = 0; attempt < 20; attempt++) {
      const res = await this.core.redis.multi().get(k.reservedGen).hvals(k.objects('ReservedIP')).hget(k.objects('IPPool'), pool).exec();
      if (!res) throw new StraitError('UNAVAILABLE', 'Redis transaction aborted');
      for (const [err] of res) if (err) throw err;
      const gen = (res[0]![1] as string | null) ?? '0';
      const poolJson = res[2]![1] as string | null;
      // The pool went meanwhile: the lease answers NOPOOL.
      if (poolJson === null) return;
      const p = JSON.parse(poolJson) as IPPool;
      const reserved = (res[1]![1] as string[]).map((j) => JSON.parse(j) as ReservedIP).filter((r) => r.pools.includes(pool));
      const pairs = reserved.flatMap((r) => {
        const offsets = reservedOffsets(p, [r]);
        return offsets.length ? [r.name, offsets.join(' ')] : [];
      });
      const r = await this.core.script('fillReserved', undefined, { reservedGen: k.reservedGen, poolReserved: k.poolReserved(pool) }, [gen, ...pairs]);
      if (r[0] === 'OK') return;
    }
  }

  async releaseBlock(id: string, requiredCluster = '', idem?: Idem): Promise<Block> {
    const r = await this.core.script('releaseBlock', idem, this.core.keys.blockRelease(), [id, requiredCluster]);
    return objectOf(r, { kind: 'Block', name: id }) as Block;
  }

  async releaseAddress(ip: string, requiredCluster = '', idem?: Idem): Promise<AddressLease> {
    const r = await this.core.script('releaseAddress', idem, this.core.keys.addressRelease(), [ip, requiredCluster]);
    return objectOf(r, { kind: 'AddressLease', name: ip }) as AddressLease;
  }
}
