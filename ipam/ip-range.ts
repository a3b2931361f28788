import { StraitError } from '../api/index.js';
import { parseCidr } from './cidr.js';
import { formatIp, parseIp, type IpFamily } from './ip-address.js';

/** An inclusive range of addresses of one family. */
export interface IpRange {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * Parses the three spellings pools and exclusions accept: a single address, a CIDR, or `first-last`.
 */
export function parseIpSpec(text: string): IpRange {
  const s = typeof text === 'string' ? text.trim() : '';
  if (s.includes('/')) {
    const c = parseCidr(s);
    return { family: c.family, first: c.first, last: c.last };
  }
  const dash = s.indexOf('-');
  if (dash >= 0) {
    const bad = (why: string): StraitError =>
      new StraitError('INVALID_IP_RANGE', `not an IP range: ${JSON.stringify(text)} (${why})`, { value: text });
    let a, b;
    try {
      a = parseIp(s.slice(0, dash));
      b = parseIp(s.slice(dash + 1));
    } catch (e) {
      throw bad(`expected first-last, e.g. 10.0.0.10-10.0.0.50: ${(e as Error).message}`);
    }
    if (a.family !== b.family) throw bad('mixed address families');
    if (a.value > b.value) throw bad('first is after last');
    return { family: a.family, first: a.value, last: b.value };
  }
  const a = parseIp(s);
  return { family: a.family, first: a.value, last: a.value };
}

export function formatRange(r: IpRange): string {
  return r.first === r.last ? formatIp(r.family, r.first) : `${formatIp(r.family, r.first)}-${formatIp(r.family, r.last)}`;
}

export function rangeSize(r: IpRange): bigint {
  return r.last - r.first + 1n;
}

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** Sorts and merges touching/overlapping ranges; all must be of one family. */
export function normalizeRanges(ranges: readonly IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((x, y) => (x.first < y.first ? -1 : x.first > y.first ? 1 : 0));
  const out: IpRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && r.first <= prev.last + 1n) {
      if (r.last > prev.last) out[out.length - 1] = { family: prev.family, first: prev.first, last: r.last };
    } else out.push(r);
  }
  return out;
}

/** `from` minus `remove`; both normalized (sorted, disjoint). */
export function subtractRanges(from: readonly IpRange[], remove: readonly IpRange[]): IpRange[] {
  const out: IpRange[] = [];
  let j = 0;
  for (const r of from) {
    let first = r.first;
    while (j < remove.length && remove[j]!.last < first) j++;
    let k = j;
    while (k < remove.length && remove[k]!.first <= r.last && first <= r.last) {
      const x = remove[k]!;
      if (x.first > first) out.push({ family: r.family, first, last: x.first - 1n });
      if (x.last + 1n > first) first = x.last + 1n;
      k++;
    }
    if (first <= r.last) out.push({ family: r.family, first, last: r.last });
  }
  return out;
}

/** Intersection of a normalized list with one range. */
export function clipRanges(ranges: readonly IpRange[], first: bigint, last: bigint): IpRange[] {
  const out: IpRange[] = [];
  for (const r of ranges) {
    if (r.last < first || r.first > last) continue;
    out.push({ family: r.family, first: r.first > first ? r.first : first, last: r.last < last ? r.last : last });
  }
  return out;
}

export function countRanges(ranges: readonly IpRange[]): bigint {
  let n = 0n;
  for (const r of ranges) n += rangeSize(r);
  return n;
}

export function rangesContain(ranges: readonly IpRange[], value: bigint): boolean {
  for (const r of ranges) if (value >= r.first && value <= r.last) return true;
  return false;
}
