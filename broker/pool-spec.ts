import { POOL_RULE_FIELDS, StraitError, type IPPool, type IPPoolRules, type PoolPurpose } from '../api/index.js';
import { blockSizeProblem, defaultBlockSize as nodeBlockDefault, MAX_BLOCK_INDEX_BITS, parseIPPool } from '../ipam/index.js';
import { defaultBlockSize, type CidrRange } from './cidr-range.js';

/**
 * The block size a new pool gets, checked. A `pods` pool's blocks are leased to node agents, so its block size obeys
 * the node agents' own rule (ipam/block-size.ts: one function decides for both): a /64 gets /122 blocks, and a size
 * a node agent would refuse is refused here. Other pools only lease single addresses: any prefix from the pool's
 * own to a single address, within the broker's block index.
 */
export function poolBlockSize(purpose: PoolPurpose, r: CidrRange, requested: number | undefined): number {
  const family = r.family === 4 ? 'ipv4' : 'ipv6';
  if (purpose === 'pods') {
    const blockSize = requested ?? nodeBlockDefault(family, r.prefix) ?? r.bits;
    const why = blockSizeProblem(family, r.prefix, blockSize);
    if (why) throw new StraitError('INVALID_POOL', `pool ${r.cidr}: ${why}`, { field: 'blockSize' });
    return blockSize;
  }
  const blockSize = requested ?? Math.min(defaultBlockSize(r), r.prefix + MAX_BLOCK_INDEX_BITS);
  if (blockSize < r.prefix || blockSize > r.bits || blockSize - r.prefix > MAX_BLOCK_INDEX_BITS) {
    throw new StraitError('INVALID_POOL', `pool ${r.cidr}: blockSize ${blockSize} must be a prefix length between ${r.prefix} and ${Math.min(r.bits, r.prefix + MAX_BLOCK_INDEX_BITS)}`, { field: 'blockSize' });
  }
  return blockSize;
}

/** The allocation rules of a pool object or request, without absent fields. */
export function rulesOf(o: Partial<IPPoolRules>): IPPoolRules {
  const out: Record<string, unknown> = {};
  for (const f of POOL_RULE_FIELDS) if (o[f] !== undefined) out[f] = o[f];
  return out as IPPoolRules;
}

/**
 * Checks a pool as every node agent will (ipam/pool-validation.ts `parseIPPool`: ips and gateway inside the cidr,
 * families of routes, selector operators, block size), so a pool the broker stores is one no node agent refuses.
 * Throws INVALID_POOL naming the field.
 */
export function checkPoolRules(p: Pick<IPPool, 'name' | 'cidr' | 'blockSize' | 'purpose'> & Partial<IPPoolRules>): void {
  parseIPPool({ name: p.name, subnet: p.cidr, ...(p.purpose === 'pods' ? { blockSize: p.blockSize } : {}), ...rulesOf(p) });
}
