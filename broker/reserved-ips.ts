import { StraitError, type IPPool } from '../api/index.js';
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
