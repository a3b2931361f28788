import { StraitError } from '../api/index.js';
import { familyBits, formatIp, parseIp, type IpFamily } from './ip-address.js';

/** A network in prefix form; `first`/`last` are the network and last (broadcast for IPv4) addresses. */
export interface Cidr {
  readonly family: IpFamily;
  readonly prefix: number;
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * Parses `a.b.c.d/n` or `x::/n`. Host bits must be zero: a pool written as 10.0.0.5/24 is almost always a typo,
 * and accepting it silently would hide that.
 */
export function parseCidr(text: string): Cidr {
  const s = typeof text === 'string' ? text.trim() : '';
  const slash = s.indexOf('/');
  const bad = (why: string): StraitError =>
    new StraitError('INVALID_CIDR', `not a CIDR: ${JSON.stringify(text)} (${why})`, { value: text });
  if (slash < 0) throw bad('missing /prefix');
  let addr;
  try {
    addr = parseIp(s.slice(0, slash));
  } catch {
    throw bad('bad address');
  }
  const ptext = s.slice(slash + 1);
  const bits = familyBits(addr.family);
  if (!/^\d{1,3}$/.test(ptext) || Number(ptext) > bits) throw bad(`prefix must be 0..${bits}`);
  const prefix = Number(ptext);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((addr.value & hostMask) !== 0n) throw bad(`host bits set; did you mean ${formatCidr(cidrOf(addr.family, addr.value, prefix))}?`);
  return { family: addr.family, prefix, first: addr.value, last: addr.value | hostMask };
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
