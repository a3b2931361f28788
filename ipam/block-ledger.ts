import { StraitError } from '../api/index.js';
import { BlockState } from './block-state.js';
import { cidrOf, formatCidr } from './cidr.js';
import type { BlockUsage } from './gc-plan.js';
import { parseIp } from './ip-address.js';
import { rangesContain } from './ip-range.js';
import type { CompiledPool } from './pool-validation.js';
import type { BlockLease } from './stores/allocation-store.js';

/** Where an address sits: its pool, its block and offset there, and whether the pool may hand it out. */
export interface Placement {
  pool: PoolBlocks;
  block: BlockState;
  offset: number;
  /** In the pool's usable ranges: counts in usage and may be handed out again once freed. */
  usable: boolean;
}

/** One pool's blocks as the engine knows them: usage per block and which node holds which lease. */
export class PoolBlocks {
  /** Blocks with any usage or lease, by CIDR text. */
  private readonly blocks = new Map<string, BlockState>();
  /** CIDR text → node holding the lease. */
  private readonly leases = new Map<string, string>();
  /** node → blocks leased to it, in lease order (the order the node fills them). */
  private readonly byNode = new Map<string, BlockState[]>();

  constructor(
    readonly pool: CompiledPool,
    private readonly now: () => number,
  ) {}

  /** The block holding `value` (created on first sight; usage starts empty). */
  blockFor(value: bigint): BlockState {
    const cidr = cidrOf(this.pool.family, value, this.pool.blockPrefix);
    const text = formatCidr(cidr);
    let b = this.blocks.get(text);
    if (!b) {
      b = new BlockState(cidr, this.pool.usable, this.now());
      this.blocks.set(text, b);
    }
    return b;
  }

  /** The block a CIDR text names if it is one of this pool's blocks at the pool's block size, else undefined. */
  blockNamed(cidr: string): BlockState | undefined {
    let b: BlockState;
    try {
      b = this.blockFor(parseIp(cidr.split('/')[0]!).value);
    } catch {
      return undefined;
    }
    return b.cidrText === cidr ? b : undefined;
  }

  /** Whether `value` (of `family`) lies in the pool's subnet. */
  contains(family: string, value: bigint): boolean {
    return family === this.pool.family && value >= this.pool.subnet.first && value <= this.pool.subnet.last;
  }

  noteLease(block: BlockState, node: string): void {
    this.leases.set(block.cidrText, node);
    let list = this.byNode.get(node);
    if (!list) this.byNode.set(node, (list = []));
    if (!list.includes(block)) list.push(block);
  }

  /** Forgets `node`'s lease of `block` (it went back to the pool). */
  forgetLease(block: BlockState, node: string): void {
    const list = this.byNode.get(node) ?? [];
    this.byNode.set(node, list.filter((x) => x !== block));
    this.leases.delete(block.cidrText);
  }

  /** The blocks leased to `node`, in the order it fills them. */
  nodeBlocks(node: string): readonly BlockState[] {
    return this.byNode.get(node) ?? [];
  }

  /** The block `node` holds under this CIDR text, if any. */
  nodeBlock(node: string, cidr: string): BlockState | undefined {
    return this.byNode.get(node)?.find((x) => x.cidrText === cidr);
  }

  /** Whether one of `node`'s blocks still has a free address. */
  hasFreeFor(node: string): boolean {
    return (this.byNode.get(node) ?? []).some((b) => b.free > 0);
  }

  /**
   * The pool's blocks not leased to anyone (as far as this ledger knows) with a free address, in address order.
   * Lazy, and it checks the leases at each step, so a lease noted while walking is skipped: a /64 is never enumerated.
   */
  *unleasedCidrs(): Generator<string> {
    const { family, blockPrefix, usable } = this.pool;
    const size = 1n << BigInt((family === 'ipv4' ? 32 : 128) - blockPrefix);
    for (const r of usable) {
      for (let start = cidrOf(family, r.first, blockPrefix).first; start <= r.last; start += size) {
        const text = formatCidr(cidrOf(family, start, blockPrefix));
        if (this.leases.has(text)) continue;
        const b = this.blockFor(start);
        if (b.free === 0) continue;
        yield b.cidrText;
      }
    }
  }

  clearLeases(): void {
    this.leases.clear();
    this.byNode.clear();
  }

  clear(): void {
    this.blocks.clear();
    this.clearLeases();
  }

  /** Leased blocks and their usage. */
  usage(): BlockUsage[] {
    const out: BlockUsage[] = [];
    for (const [node, blocks] of this.byNode) for (const b of blocks) out.push({ pool: this.pool.name, cidr: b.cidrText, node, used: b.used, emptySince: b.emptySince });
    return out;
  }

  /** node → CIDRs leased to it. */
  leasesByNode(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [node, list] of this.byNode) out[node] = list.map((b) => b.cidrText);
    return out;
  }
}

/**
 * The block ledger: every configured pool's blocks, their usage and their leases, as the engine's cache of the
 * store. Pure (no I/O): the engine feeds it what the store and the block leaser answer.
 */
export class BlockLedger {
  private readonly pools: Map<string, PoolBlocks>;
  /** The compiled pools by name, as pool selection takes them. */
  readonly compiled: ReadonlyMap<string, CompiledPool>;

  constructor(compiled: readonly CompiledPool[], now: () => number) {
    this.pools = new Map(compiled.map((p) => [p.name, new PoolBlocks(p, now)]));
    this.compiled = new Map(compiled.map((p) => [p.name, p]));
  }

  get(pool: string): PoolBlocks | undefined {
    return this.pools.get(pool);
  }

  all(): IterableIterator<PoolBlocks> {
    return this.pools.values();
  }

  /** Forgets every block and lease (before a full load from the store). */
  clear(): void {
    for (const p of this.pools.values()) p.clear();
  }

  /**
   * Replaces what the ledger knows of leases with `leases` (block usage stays). A lease of an unknown pool, or cut at
   * another block size than the pool's now, is ignored until it is released.
   */
  setLeases(leases: readonly BlockLease[]): void {
    for (const p of this.pools.values()) p.clearLeases();
    for (const l of leases) {
      const p = this.pools.get(l.pool);
      const b = p?.blockNamed(l.cidr);
      if (p && b) p.noteLease(b, l.node);
    }
  }

  /**
   * Records a block just leased to `lease.node` (it starts its empty grace period now). Throws INVALID_POOL when the
   * leaser handed out something that is not one of the pool's blocks (a broker cutting another block size).
   */
  accept(p: PoolBlocks, lease: BlockLease, now: number): BlockState {
    const b = p.blockNamed(lease.cidr);
    if (!b) {
      throw new StraitError('INVALID_POOL', `block ${lease.cidr} leased for pool "${p.pool.name}" is not a /${p.pool.blockPrefix} block of ${formatCidr(p.pool.subnet)}`, { pool: p.pool.name, cidr: lease.cidr });
    }
    b.emptySince = now;
    p.noteLease(b, lease.node);
    return b;
  }

  /**
   * Where an address of a record of `poolName` sits: in that pool if it still contains the address; else (pool
   * unknown or edited, unreadable record) in the pool that hands the address out now; undefined if none does.
   */
  place(address: string, poolName: string): Placement | undefined {
    const v = parseIp(address);
    let p = this.pools.get(poolName);
    if (!p || !p.contains(v.family, v.value)) {
      p = undefined;
      for (const other of this.pools.values()) {
        if (other.contains(v.family, v.value) && rangesContain(other.pool.usable, v.value)) {
          p = other;
          break;
        }
      }
    }
    if (!p) return undefined;
    const block = p.blockFor(v.value);
    return { pool: p, block, offset: block.offsetOf(v.value), usable: rangesContain(p.pool.usable, v.value) };
  }

  /** Leased blocks of every pool and their usage. */
  usage(): BlockUsage[] {
    return [...this.pools.values()].flatMap((p) => p.usage());
  }
}
