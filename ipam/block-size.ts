import { familyBits, type IpFamily } from './ip-address.js';

/** Most host bits a block may have: a node agent keeps a block's usage as a bitmap of this many bits at most. */
export const MAX_BLOCK_HOST_BITS = 16;
/**
 * Most bits of block index a pool may have (2^64 blocks). The broker's lease script counts blocks in Lua doubles:
 * the count is a power of two (exact as a double at any size) and the cursor grows by one per lease, so the
 * indexes it ever forms stay far below 2^53; 64 lets an IPv6 /64 pool have the default /122 blocks.
 */
export const MAX_BLOCK_INDEX_BITS = 64;
export const DEFAULT_BLOCK_PREFIX: Readonly<Record<IpFamily, number>> = { ipv4: 26, ipv6: 122 };

/** The block prefix lengths a pool of `family`/`prefix` accepts, as an inclusive range. */
export interface BlockSizeRange {
  min: number;
  max: number;
}

/**
 * The one rule for the block size of a pool whose blocks are leased to nodes (purpose `pods`), used by the broker
 * when a pool is created and by every node agent when it compiles the pool, so what one accepts the other accepts:
 * at least the pool's own prefix and at most MAX_BLOCK_HOST_BITS host bits (the node's bitmap), at most
 * MAX_BLOCK_INDEX_BITS longer than the pool (the broker's index), and at least 2 host bits (a block of one or two
 * addresses cannot hand out its network address). Undefined when no block size fits (e.g. an IPv4 /31).
 */
export function blockSizeRange(family: IpFamily, prefix: number): BlockSizeRange | undefined {
  const bits = familyBits(family);
  const min = Math.max(prefix, bits - MAX_BLOCK_HOST_BITS);
  const max = Math.min(bits - 2, prefix + MAX_BLOCK_INDEX_BITS);
  return min <= max ? { min, max } : undefined;
}

/** The default block size (/26, /122) moved into the pool's range; undefined when no block size fits. */
export function defaultBlockSize(family: IpFamily, prefix: number): number | undefined {
  const r = blockSizeRange(family, prefix);
  return r && Math.min(r.max, Math.max(r.min, DEFAULT_BLOCK_PREFIX[family]));
}

/** Why `blockSize` does not fit a pool of `family`/`prefix` (a sentence naming the range), or undefined if it fits. */
export function blockSizeProblem(family: IpFamily, prefix: number, blockSize: number): string | undefined {
  const r = blockSizeRange(family, prefix);
  if (!r) return `a /${prefix} ${family} pool is too small for node blocks (a block needs at least 2 host bits); use a shorter prefix`;
  if (!Number.isInteger(blockSize) || blockSize < r.min || blockSize > r.max)
    return `blockSize ${blockSize} must be a prefix length between ${r.min} and ${r.max} for a /${prefix} ${family} pool`;
  return undefined;
}
