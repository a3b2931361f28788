import { StraitError, type IPPool, type ReservedIP } from '../api/index.js';
import { parseCidr, parseIpSpec } from '../ipam/index.js';

/**
 * The pools a ReservedIP's addresses fall in, in the order of the pools given. Every range must lie inside one
 * pool's cidr: a reserved address outside every pool is bad input (a typo, or a pool not created yet), refused
 * with INVALID_RESERVED_IP naming the entry, so nothing is stored that reserves nothing.
 */
export function poolsOfReserved(name: string, ips: readonly string[], pools: readonly IPPool[]): string[] {
  const cidrs = pools.map((p) => ({ name: p.name, c: parseCidr(p.cidr) }));
  const found = new Set<string>();
  for (const [i, text] of ips.entries()) {
    const r = parseIpSpec(text);
    const p = cidrs.find(({ c }) => c.family === r.family && c.first <= r.first && r.last <= c.last);
    if (!p) throw new StraitError('INVALID_RESERVED_IP', `reserved IP "${name}": ips[${i}] ${text} is outside every pool (create the pool first)`, { field: `ips[${i}]` });
    found.add(p.name);
  }
  return pools.map((p) => p.name).filter((n) => found.has(n));
}

/**
 * The addresses ReservedIPs hold inside a pool, as offsets from the pool's first address: `[first, last, first,
 * last, …]` (decimal strings, as the lease script takes them), so a single address lease skips them. Offsets past
 * 2^53 (deep in an IPv6 /64) are left out: the script's numbers are doubles there.
 */
export function reservedOffsets(pool: IPPool, reserved: readonly ReservedIP[]): string[] {
  const c = parseCidr(pool.cidr);
  const out: string[] = [];
  for (const r of reserved) {
    for (const text of r.ips) {
      const x = parseIpSpec(text);
      if (x.family !== c.family || x.last < c.first || x.first > c.last) continue;
      const lo = (x.first > c.first ? x.first : c.first) - c.first;
      const hi = (x.last < c.last ? x.last : c.last) - c.first;
      if (hi > BigInt(Number.MAX_SAFE_INTEGER)) continue;
      out.push(lo.toString(), hi.toString());
    }
  }
  return out;
}
