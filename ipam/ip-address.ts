import { StraitError } from '../api/index.js';
import { readIp } from '../crds/index.js';

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

/**
 * Parses a single address (no prefix) with the one strict grammar of crds/ip-text.ts: IPv4 is a dotted quad without
 * leading zeros, IPv6 has no zone, and IPv4-mapped or -compatible IPv6 is refused. Surrounding white space is
 * forgiven here (config files); the wire schemas refuse it.
 */
export function parseIp(text: string): IpAddress {
  const r = readIp(typeof text === 'string' ? text.trim() : text);
  if (!r.ok) throw new StraitError('INVALID_IP', `not an IP address: ${JSON.stringify(text)} (${r.reason})`, { value: text });
  return { family: r.family, value: r.value };
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
