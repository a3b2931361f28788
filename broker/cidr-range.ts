import { canonicalIp, formatCidr, parseCidr } from '../ipam/index.js';

/**
 * A CIDR in the shapes the Lua scripts need: fixed-width hex bounds (so Redis compares ranges as strings:
 * lexicographic order of equal-length lower-case hex is numeric order) and 16-bit groups (so Lua can add an
 * offset and format the address without 128-bit integers).
 */
export interface CidrRange {
  cidr: string;
  family: 4 | 6;
  prefix: number;
  /** 32 (IPv4) or 128 (IPv6) */
  bits: number;
  /** 8 (IPv4) or 32 (IPv6) hex digits */
  start: string;
  end: string;
  /** 2 (IPv4) or 8 (IPv6) 16-bit groups of the network address */
  groups: number[];
}

/** Parses with the one strict grammar (ipam's parseCidr: no leading zeros, no IPv4-mapped IPv6, no host bits). */
export function parseCidrRange(cidr: string): CidrRange {
  const c = parseCidr(cidr);
  const bits = c.family === 'ipv4' ? 32 : 128;
  const hex = (v: bigint): string => v.toString(16).padStart(bits / 4, '0');
  const groups: number[] = [];
  for (let i = bits - 16; i >= 0; i -= 16) groups.push(Number((c.first >> BigInt(i)) & 0xffffn));
  return { cidr: formatCidr(c), family: c.family === 'ipv4' ? 4 : 6, prefix: c.prefix, bits, start: hex(c.first), end: hex(c.last), groups };
}

export function canonicalCidr(cidr: string): string {
  return formatCidr(parseCidr(cidr));
}

export { canonicalIp };

export function rangesOverlap(a: CidrRange, b: CidrRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

/** `start,end,cidr`: the form kept in Redis range hashes. */
export function rangeEntry(r: CidrRange): string {
  return `${r.start},${r.end},${r.cidr}`;
}

/**
 * Most single addresses one pool may index (the first 2^32 of a larger pool); keeps Lua arithmetic exact (doubles)
 * and scans bounded. Blocks have their own bound (ipam MAX_BLOCK_INDEX_BITS).
 */
export const MAX_POOL_INDEX_BITS = 32;

/** Pool metadata the lease scripts parse: `fam|g1,g2,..|prefix|blockSize|nblocks|naddr|skipEdges`. */
export function poolMeta(r: CidrRange, blockSize: number): string {
  const nblocks = 2 ** (blockSize - r.prefix);
  const naddr = 2 ** Math.min(r.bits - r.prefix, MAX_POOL_INDEX_BITS);
  // IPv4 pools wider than /31 do not hand out their network and broadcast addresses as single leases.
  const skipEdges = r.family === 4 && r.bits - r.prefix >= 2 ? 1 : 0;
  return [r.family, r.groups.join(','), r.prefix, blockSize, nblocks, naddr, skipEdges].join('|');
}

export function defaultBlockSize(r: CidrRange): number {
  return Math.min(r.bits, Math.max(r.prefix, r.family === 4 ? 26 : 122));
}
