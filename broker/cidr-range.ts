import ipaddr from 'ipaddr.js';
import { StraitError } from '../api/index.js';

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

export function parseCidrRange(cidr: string): CidrRange {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(cidr);
  } catch {
    throw new StraitError('INVALID_CIDR', `not a CIDR: ${JSON.stringify(cidr)}`, { value: cidr });
  }
  const [ip, prefix] = parsed;
  const bytes = ip.toByteArray();
  const bits = bytes.length * 8;
  const family = bytes.length === 4 ? 4 : 6;
  const startBytes = bytes.map((b, i) => {
    const lo = i * 8;
    if (prefix >= lo + 8) return b;
    if (prefix <= lo) return 0;
    return b & (0xff << (8 - (prefix - lo))) & 0xff;
  });
  const endBytes = startBytes.map((b, i) => {
    const lo = i * 8;
    if (prefix >= lo + 8) return b;
    if (prefix <= lo) return 0xff;
    return b | (0xff >> (prefix - lo));
  });
  const hex = (a: number[]): string => a.map((b) => b.toString(16).padStart(2, '0')).join('');
  const groups: number[] = [];
  for (let i = 0; i < startBytes.length; i += 2) groups.push(((startBytes[i] ?? 0) << 8) | (startBytes[i + 1] ?? 0));
  return { cidr: canonicalCidr(cidr), family, prefix, bits, start: hex(startBytes), end: hex(endBytes), groups };
}

export function canonicalCidr(cidr: string): string {
  const [ip, prefix] = ipaddr.parseCIDR(cidr);
  return `${ip.toString()}/${prefix}`;
}

export function canonicalIp(ip: string): string {
  try {
    return ipaddr.parse(ip).toString();
  } catch {
    throw new StraitError('INVALID_IP', `not an IP address: ${JSON.stringify(ip)}`, { value: ip });
  }
}

export function rangesOverlap(a: CidrRange, b: CidrRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

/** `start,end,cidr`: the form kept in Redis range hashes. */
export function rangeEntry(r: CidrRange): string {
  return `${r.start},${r.end},${r.cidr}`;
}

/** Most blocks or addresses one pool may index; keeps Lua arithmetic exact (doubles) and scans bounded. */
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
