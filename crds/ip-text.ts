/**
 * The one grammar for IP address and CIDR text everywhere Strait reads it (broker API, CLI, CRD schemas, node agent
 * pools). It sits here, in the bottom folder, so the wire schemas (api/), the CRD schemas and ipam/ all use it.
 *
 * Stricter than ipaddr.js and inet_aton on purpose: a leading zero in an IPv4 octet is refused, because tools
 * disagree on it (`010` is octal 8 for inet_aton and ipaddr.js, decimal 10 for others), and a pool written
 * `010.150.0.0/16` was once stored as `8.150.0.0/16`. IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible
 * (`::a.b.c.d`) IPv6 addresses are refused in any spelling: they name IPv4 hosts through the IPv6 family, so they
 * slip past per-family overlap checks and never match IPv6 traffic on the wire.
 * Pure, no I/O, no exceptions: callers turn a refusal into their own catalogued error.
 */
export type IpTextFamily = 'ipv4' | 'ipv6';

export type IpTextResult = { ok: true; family: IpTextFamily; value: bigint } | { ok: false; reason: string };
export type CidrTextResult = { ok: true; family: IpTextFamily; value: bigint; prefix: number } | { ok: false; reason: string };

const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const V4_LOOSE = /^\d+\.\d+\.\d+\.\d+$/;
const HEX = /^[0-9a-fA-F]{1,4}$/;
const MAPPED_PREFIX = 0xffffn << 32n;

function v4Value(s: string): bigint | string {
  const m = V4.exec(s);
  if (!m) {
    if (V4_LOOSE.test(s)) return /(^|\.)0\d/.test(s) ? 'leading zero in an octet (some tools read it as octal); write the octet without it' : 'an octet is above 255';
    return 'not a dotted-quad IPv4 address';
  }
  const o = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  if (o.some((x) => x > 255)) return 'an octet is above 255';
  return BigInt(o[0]! * 16777216 + o[1]! * 65536 + o[2]! * 256 + o[3]!);
}

function groupsValue(groups: readonly string[]): bigint | undefined {
  let v = 0n;
  for (const g of groups) {
    if (!HEX.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

function v6Value(s: string): bigint | string {
  if (s.includes('%')) return 'zone index (%…) not allowed';
  // An embedded dotted quad may end the address; it stands for the last two groups.
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = v4Value(s.slice(lastColon + 1));
    if (typeof v4 === 'string') return `embedded IPv4: ${v4}`;
    body = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const dbl = body.indexOf('::');
  if (dbl !== body.lastIndexOf('::') || body.includes(':::')) return 'more than one "::"';
  const head = dbl < 0 ? body.split(':') : body.slice(0, dbl) === '' ? [] : body.slice(0, dbl).split(':');
  const tail = dbl < 0 ? [] : body.slice(dbl + 2) === '' ? [] : body.slice(dbl + 2).split(':');
  if (dbl < 0 && head.length !== 8) return 'expected 8 groups of up to 4 hex digits (or "::")';
  if (dbl >= 0 && head.length + tail.length > 7) return 'too many groups beside "::"';
  const h = groupsValue(head);
  const t = groupsValue(tail);
  if (h === undefined || t === undefined) return 'a group is not 1-4 hex digits';
  return (h << BigInt(16 * (8 - head.length))) | t;
}

/** Why an IPv6 value is refused as an IPv4 address in disguise, or undefined when it is a plain IPv6 address. */
export function ipv4InIpv6Reason(value: bigint): string | undefined {
  const high = value >> 32n;
  if (high !== 0n && high !== MAPPED_PREFIX >> 32n) return undefined;
  if (high === 0n && value <= 1n) return undefined;
  const v4 = Number(value & 0xffffffffn);
  const quad = `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
  return high === 0n
    ? `IPv4-compatible IPv6 address (::/96, deprecated by RFC 4291) is not accepted; write the IPv4 address ${quad}`
    : `IPv4-mapped IPv6 address (::ffff:0:0/96) is not accepted; write the IPv4 address ${quad}`;
}

/** Parses one address: a dotted quad without leading zeros, or IPv6 text (RFC 4291 forms, no zone). */
export function readIp(text: unknown): IpTextResult {
  if (typeof text !== 'string') return { ok: false, reason: 'not a string' };
  if (text.length === 0) return { ok: false, reason: 'empty' };
  if (text.length > 45) return { ok: false, reason: 'longer than any address' };
  if (!text.includes(':')) {
    const v = v4Value(text);
    return typeof v === 'string' ? { ok: false, reason: v } : { ok: true, family: 'ipv4', value: v };
  }
  const v = v6Value(text);
  if (typeof v === 'string') return { ok: false, reason: v };
  const disguised = ipv4InIpv6Reason(v);
  if (disguised) return { ok: false, reason: disguised };
  return { ok: true, family: 'ipv6', value: v };
}

/** Parses `address/prefix`; the prefix is decimal without leading zeros. Host bits are the caller's business. */
export function readCidr(text: unknown): CidrTextResult {
  if (typeof text !== 'string') return { ok: false, reason: 'not a string' };
  if (text.length > 49) return { ok: false, reason: 'longer than any CIDR' };
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: 'missing /prefix' };
  const a = readIp(text.slice(0, slash));
  if (!a.ok) return { ok: false, reason: a.reason };
  const bits = a.family === 'ipv4' ? 32 : 128;
  const p = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > bits) return { ok: false, reason: `prefix must be a decimal 0..${bits} without leading zeros` };
  return { ok: true, family: a.family, value: a.value, prefix: Number(p) };
}

/** Host bits of `value` below `prefix` (0n when the address is the network address). */
export function hostBitsOf(family: IpTextFamily, value: bigint, prefix: number): bigint {
  return value & ((1n << BigInt((family === 'ipv4' ? 32 : 128) - prefix)) - 1n);
}
