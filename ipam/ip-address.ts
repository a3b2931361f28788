import ipaddr from 'ipaddr.js';
import { StraitError } from '../api/index.js';

/** Address family, named as CNI netconf and pool annotations name it. */
export type IpFamily = 'ipv4' | 'ipv6';

/**
 * One parsed address. The value is a BigInt for both families so range maths is one code path;
 * hot loops work on small `number` offsets inside a block (see block-bitmap.ts), never on BigInts.
 */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

export function familyBits(family: IpFamily): number {
  return family === 'ipv4' ? 32 : 128;
}

/** Parses a single address (no prefix). IPv4 must be dotted quad; IPv4-mapped IPv6 stays IPv6. */
const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const HEX = /^[0-9a-fA-F]{1,4}$/;

/** Plain hex IPv6 (no embedded IPv4, no zone) without ipaddr.js: this is on the allocator's hot path. */
function fastV6(s: string): bigint | undefined {
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const head = dbl < 0 ? s.split(':') : s.slice(0, dbl) === '' ? [] : s.slice(0, dbl).split(':');
  const tail = dbl < 0 ? [] : s.slice(dbl + 2) === '' ? [] : s.slice(dbl + 2).split(':');
  const n = head.length + tail.length;
  if (dbl < 0 ? n !== 8 : n > 7) return undefined;
  let v = 0n;
  for (const g of head) {
    if (!HEX.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  v <<= BigInt(16 * (8 - head.length));
  let t = 0n;
  for (const g of tail) {
    if (!HEX.test(g)) return undefined;
    t = (t << 16n) | BigInt(parseInt(g, 16));
  }
  return v | t;
}

export function parseIp(text: string): IpAddress {
  const s = typeof text === 'string' ? text.trim() : '';
  const m = V4.exec(s);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    const c = Number(m[3]);
    const d = Number(m[4]);
    if (a < 256 && b < 256 && c < 256 && d < 256) return { family: 'ipv4', value: BigInt(a * 16777216 + b * 65536 + c * 256 + d) };
  }
  if (s.includes(':') && !s.includes('.')) {
    const v = fastV6(s);
    if (v !== undefined) return { family: 'ipv6', value: v };
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) {
    const b = ipaddr.IPv4.parse(s).octets;
    return { family: 'ipv4', value: BigInt((((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!) >>> 0) };
  }
  if (ipaddr.IPv6.isValid(s) && !s.includes('%')) {
    let v = 0n;
    for (const part of ipaddr.IPv6.parse(s).parts) v = (v << 16n) | BigInt(part);
    return { family: 'ipv6', value: v };
  }
  throw new StraitError('INVALID_IP', `not an IP address: ${JSON.stringify(text)}`, { value: text });
}

export function isIp(text: string): boolean {
  try {
    parseIp(text);
    return true;
  } catch {
    return false;
  }
}

/** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 'ipv4') {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Longest run of >= 2 zero groups becomes "::" (first one wins on ties, per RFC 5952).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Re-prints any accepted address text in canonical form (store keys always use this). */
export function canonicalIp(text: string): string {
  const a = parseIp(text);
  return formatIp(a.family, a.value);
}
