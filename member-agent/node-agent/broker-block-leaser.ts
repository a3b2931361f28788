import { StraitError, type BrokerClient } from '../../api/index.js';
import type { AllocationStore, BlockLease, BlockLeaseRequest, BlockLeaser } from '../../ipam/index.js';
import type { Logger } from '../../host/index.js';

export interface BlockReconcileResult {
  /** Blocks the broker holds for this node that the local store had not recorded (a crash between the two). */
  adopted: string[];
  /** Empty blocks the local store held that the broker no longer records for this node. */
  dropped: string[];
  /** Blocks the broker no longer records but with pods' addresses in them: kept, reported. */
  orphaned: string[];
}

const key = (pool: string, cidr: string): string => `${pool} ${cidr}`;

/**
 * The broker's BlockLeaser for a node agent. The broker picks the block (`POST /v1/ippools/{pool}/blocks`; the
 * engine's candidates are ignored); every lease is then recorded in the node's durable local store, which stays the
 * engine's view of its own blocks (a restart reuses them without asking the broker). Allocations stay in the local
 * store, so pod ADDs inside leased blocks never wait for the broker. Order of writes, so a crash never gives a block
 * to two nodes: lease at the broker before recording locally; return at the broker before forgetting locally.
 * `reconcile()` repairs the crash windows at start.
 */
export class BrokerBlockLeaser implements BlockLeaser {
  /** `pool cidr` → broker block id (needed to return a block). */
  private readonly ids = new Map<string, string>();

  constructor(
    private readonly client: BrokerClient,
    private readonly local: AllocationStore,
    private readonly cluster: string,
    private readonly log: Logger,
  ) {}

  async lease({ pool, node, leasedAt }: BlockLeaseRequest): Promise<BlockLease | undefined> {
    let block;
    try {
      block = await this.client.leaseBlock(pool, { cluster: this.cluster, node });
    } catch (e) {
      // An exhausted pool is a value for the engine (it reports POOL_EXHAUSTED with its per-pool explanation).
      if (e instanceof StraitError && e.code === 'POOL_EXHAUSTED') return undefined;
      // The broker may have leased a block we never heard of (the client's retries with the same Idempotency-Key
      // ran out). Adopt what the broker records for this node now, so that block is used and returned when empty
      // instead of staying leased to us unseen until the next restart's reconcile.
      if (e instanceof StraitError && e.code === 'OUTCOME_UNKNOWN') await this.adoptAfterUnknownOutcome(node);
      throw e;
    }
    const lease: BlockLease = { pool, cidr: block.cidr, node, leasedAt };
    if (!(await this.local.leaseBlock(lease))) {
      // Only possible when the state dir is shared by two node names: give the block back rather than use it twice.
      await this.client.releaseBlock(block.id).catch(() => undefined);
      throw new StraitError('INTERNAL', `block ${block.cidr} of pool ${pool} is recorded for another node in the local state dir`, { pool, cidr: block.cidr, node });
    }
    this.ids.set(key(pool, block.cidr), block.id);
    this.log.info({ pool, cidr: block.cidr, id: block.id, node }, 'leased block from the broker');
    return lease;
  }

  async release(pool: string, cidr: string, node: string): Promise<boolean> {
    const id = this.ids.get(key(pool, cidr)) ?? (await this.findId(pool, cidr, node));
    if (id !== undefined) {
      try {
        await this.client.releaseBlock(id);
      } catch (e) {
        if (!(e instanceof StraitError && e.code === 'NOT_FOUND')) throw e;
      }
      this.log.info({ pool, cidr, id, node }, 'returned block to the broker');
    }
    this.ids.delete(key(pool, cidr));
    return this.local.releaseBlock(pool, cidr, node);
  }

  list(filter?: { pool?: string; node?: string }): Promise<BlockLease[]> {
    return this.local.listBlocks(filter);
  }

  private async findId(pool: string, cidr: string, node: string): Promise<string | undefined> {
    const { items } = await this.client.listBlocks({ cluster: this.cluster, pool });
    return items.find((b) => b.cidr === cidr && b.node === node)?.id;
  }

  private async adoptAfterUnknownOutcome(node: string): Promise<void> {
    try {
      const r = await this.reconcile(node, { dropStale: false });
      if (r.adopted.length) this.log.warn({ blocks: r.adopted, node }, 'adopted blocks the broker leased to this node while its answer was lost');
    } catch (err) {
      // The broker is still away: the reconcile at the next start adopts the block.
      this.log.warn({ err, node }, 'cannot check the broker for a block leased while its answer was lost; the next start adopts it');
    }
  }

  /**
   * Makes the local store agree with the broker about `node`'s blocks (call before the engine loads): blocks leased
   * at the broker but not recorded locally are adopted; local blocks the broker no longer records are dropped when
   * no address in them is held (and `dropStale` is not false), else kept and reported.
   */
  async reconcile(node: string, opts: { dropStale?: boolean } = {}): Promise<BlockReconcileResult> {
    // While an engine already serves from the local store, dropping a block under it could hand an address out of a
    // block the broker gave away; stale blocks are then only reported, and go when they are empty (release).
    const dropStale = opts.dropStale ?? true;
    const out: BlockReconcileResult = { adopted: [], dropped: [], orphaned: [] };
    const remote = (await this.client.listBlocks({ cluster: this.cluster })).items.filter((b) => b.node === node);
    const local = await this.local.listBlocks({ node });
    const localKeys = new Set(local.map((l) => key(l.pool, l.cidr)));
    for (const b of remote) {
      this.ids.set(key(b.pool, b.cidr), b.id);
      if (localKeys.has(key(b.pool, b.cidr))) continue;
      if (await this.local.leaseBlock({ pool: b.pool, cidr: b.cidr, node, leasedAt: Date.parse(b.createdAt) || Date.now() })) out.adopted.push(b.cidr);
    }
    const remoteKeys = new Set(remote.map((b) => key(b.pool, b.cidr)));
    for (const l of local) {
      if (remoteKeys.has(key(l.pool, l.cidr))) continue;
      const used = (await this.local.list({ pool: l.pool })).some((r) => r.block === l.cidr);
      if (used || !dropStale) {
        out.orphaned.push(l.cidr);
        continue;
      }
      await this.local.releaseBlock(l.pool, l.cidr, node);
      out.dropped.push(l.cidr);
    }
    if (out.orphaned.length) this.log.warn({ blocks: out.orphaned, node }, 'the broker no longer records these blocks of this node but pods use addresses in them; kept');
    return out;
  }
}
