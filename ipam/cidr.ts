import { StraitError } from '../api/index.js';
import { allocatableCidrRefusal, readCidr } from '../crds/index.js';
import { familyBits, formatIp, type IpFamily } from './ip-address.js';

/** A network in prefix form; `first`/`last` are the network and last (broadcast for IPv4) addresses. */
export interface Cidr {
  readonly family: IpFamily;
  readonly prefix: number;
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * Parses `a.b.c.d/n` or `x::/n` (the strict grammar of crds/ip-text.ts: no leading zeros, no IPv4-mapped IPv6).
 * Host bits must be zero: a pool written as 10.0.0.5/24 is almost always a typo, and accepting it silently would
 * hide that.
 */
export function parseCidr(text: string): Cidr {
  const r = readCidr(typeof text === 'string' ? text.trim() : text);
  const bad = (why: string): StraitError =>
    new StraitError('INVALID_CIDR', `not a CIDR: ${JSON.stringify(text)} (${why})`, { value: text });
  if (!r.ok) throw bad(r.reason);
  const hostMask = (1n << BigInt(familyBits(r.family) - r.prefix)) - 1n;
  if ((r.value & hostMask) !== 0n) throw bad(`host bits set; did you mean ${formatCidr(cidrOf(r.family, r.value, r.prefix))}?`);
  return { family: r.family, prefix: r.prefix, first: r.value, last: r.value | hostMask };
}

/**
 * Why `c` may not be a pool, subnet or cluster CIDR (default route, loopback, link-local, multicast, broadcast,
 * unspecified, IPv4-mapped), or undefined. See docs/ipam.md.
 */
export function specialRangeRefusal(c: Cidr): string | undefined {
  return allocatableCidrRefusal(c.family, c.first, c.prefix);
}

/** The network of `prefix` length containing `value`. */
export function cidrOf(family: IpFamily, value: bigint, prefix: number): Cidr {
  const hostMask = (1n << BigInt(familyBits(family) - prefix)) - 1n;
  const first = value & ~hostMask;
  return { family, prefix, first, last: first | hostMask };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.first)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): bigint {
  return c.last - c.first + 1n;
}

export function cidrContains(c: Cidr, family: IpFamily, value: bigint): boolean {
  return c.family === family && value >= c.first && value <= c.last;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}
