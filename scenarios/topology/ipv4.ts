import { StraitError } from '../../api/index.js';

/** Minimal IPv4 arithmetic for the lab's address plan (uint32 offsets; the plan never needs IPv6). */
export interface Cidr4 {
  base: number;
  prefix: number;
}

export function parseIp4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw new StraitError('LAB_TOPOLOGY_INVALID', `not an IPv4 address: ${s}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new StraitError('LAB_TOPOLOGY_INVALID', `not an IPv4 address: ${s}`);
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr4(s: string): Cidr4 {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m?.[1] || !m[2] || Number(m[2]) > 32) throw new StraitError('LAB_TOPOLOGY_INVALID', `not an IPv4 CIDR: ${s}`);
  const base = parseIp4(m[1]);
  const prefix = Number(m[2]);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) throw new StraitError('LAB_TOPOLOGY_INVALID', `CIDR has host bits set: ${s}`);
  return { base, prefix };
}

export function cidrSize(c: Cidr4): number {
  return 2 ** (32 - c.prefix);
}

/** The `i`-th address of a CIDR (0 = network address); throws when it falls outside. */
export function nthIp(c: Cidr4, i: number, what: string): string {
  if (i < 0 || i >= cidrSize(c)) {
    throw new StraitError('LAB_TOPOLOGY_INVALID', `${what}: offset ${i} does not fit in ${formatIp4(c.base)}/${c.prefix}`);
  }
  return formatIp4(c.base + i);
}

/** The `i`-th sub-network of length `prefix` inside `c`. */
export function nthSubnet(c: Cidr4, prefix: number, i: number, what: string): string {
  const count = 2 ** (prefix - c.prefix);
  if (prefix < c.prefix || i < 0 || i >= count) {
    throw new StraitError('LAB_TOPOLOGY_INVALID', `${what}: /${prefix} number ${i} does not fit in ${formatIp4(c.base)}/${c.prefix}`);
  }
  return `${formatIp4(c.base + i * 2 ** (32 - prefix))}/${prefix}`;
}

export function cidrsOverlap(a: Cidr4, b: Cidr4): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

/** `a.b.c.d/len` → `a.b.c.d`. */
export function addrOf(cidrAddress: string): string {
  return cidrAddress.split('/')[0] ?? cidrAddress;
}
