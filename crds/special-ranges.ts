import type { IpTextFamily } from './ip-text.js';

/**
 * Special-purpose ranges (RFC 6890 and friends) that Strait refuses where addresses are handed out or claimed:
 * pools, subnets, a cluster's pod and service CIDRs. A pool there would lease addresses no host can use (loopback,
 * multicast, broadcast, link-local) or, for 0.0.0.0/0 and ::/0, claim every address of the family and block every
 * other pool. Destinations (egress `destSubnet`, routes) are not checked: `0.0.0.0/0` is a fine destination.
 * Class E (240.0.0.0/4) and shared/documentation ranges stay allowed: people use them as extra private space.
 */
interface SpecialRange {
  readonly family: IpTextFamily;
  readonly first: bigint;
  readonly last: bigint;
  readonly text: string;
  readonly what: string;
}

function range(family: IpTextFamily, first: bigint, prefix: number, text: string, what: string): SpecialRange {
  const host = (1n << BigInt((family === 'ipv4' ? 32 : 128) - prefix)) - 1n;
  return { family, first, last: first | host, text, what };
}

const v4 = (a: number, b: number, c: number, d: number): bigint => BigInt(a * 16777216 + b * 65536 + c * 256 + d);

export const SPECIAL_RANGES: readonly SpecialRange[] = [
  range('ipv4', v4(0, 0, 0, 0), 8, '0.0.0.0/8', '"this network", holds the unspecified address 0.0.0.0'),
  range('ipv4', v4(127, 0, 0, 0), 8, '127.0.0.0/8', 'loopback'),
  range('ipv4', v4(169, 254, 0, 0), 16, '169.254.0.0/16', 'link-local'),
  range('ipv4', v4(224, 0, 0, 0), 4, '224.0.0.0/4', 'multicast'),
  range('ipv4', v4(255, 255, 255, 255), 32, '255.255.255.255/32', 'limited broadcast'),
  range('ipv6', 0n, 128, '::/128', 'the unspecified address'),
  range('ipv6', 1n, 128, '::1/128', 'loopback'),
  range('ipv6', 0xffffn << 32n, 96, '::ffff:0:0/96', 'IPv4-mapped addresses'),
  range('ipv6', 0n, 96, '::/96', 'IPv4-compatible addresses (deprecated)'),
  range('ipv6', 0xfe80n << 112n, 10, 'fe80::/10', 'link-local'),
  range('ipv6', 0xffn << 120n, 8, 'ff00::/8', 'multicast'),
];

/**
 * Why the network `value/prefix` may not be a pool, subnet or cluster CIDR; undefined when it may.
 * `value` is the network address (host bits clear).
 */
export function allocatableCidrRefusal(family: IpTextFamily, value: bigint, prefix: number): string | undefined {
  if (prefix === 0) return `${family === 'ipv4' ? '0.0.0.0/0' : '::/0'} is the whole ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address space (the default route), not a range to allocate from`;
  const last = value | ((1n << BigInt((family === 'ipv4' ? 32 : 128) - prefix)) - 1n);
  const hit = SPECIAL_RANGES.find((r) => r.family === family && r.first <= last && value <= r.last);
  return hit ? `overlaps the special-purpose range ${hit.text} (${hit.what}); pools, subnets and cluster CIDRs must be ordinary unicast ranges` : undefined;
}

/** Why an address may not be a host's own unicast address (gateway endpoint, egress IP); undefined when it may. */
export function unicastIpRefusal(family: IpTextFamily, value: bigint): string | undefined {
  if (family === 'ipv4') {
    if (value === 0n) return 'the unspecified address 0.0.0.0 is not a host address';
    if (value === 0xffffffffn) return 'the limited broadcast address is not a host address';
    if (value >> 28n === 0xen) return 'a multicast address (224.0.0.0/4) is not a host address';
    return undefined;
  }
  if (value === 0n) return 'the unspecified address :: is not a host address';
  if (value >> 120n === 0xffn) return 'a multicast address (ff00::/8) is not a host address';
  return undefined;
}
