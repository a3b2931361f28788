import { clipRanges, countRanges, normalizeRanges, parseCidr, parseIp, parseIpSpec, subtractRanges, type IpRange } from '../../ipam/index.js';
import type { IPPoolNodeStatus } from '../../crds/index.js';
import type { KubeObject } from './kube-client.js';

/**
 * The pure half of an IPPool's status. Each node agent writes its own entry under `status.nodes.<node>` (its
 * blocks of the pool and the addresses it holds there; a JSON merge patch of one key, so nodes never conflict and
 * nothing is read back first). The member agent sums the entries into `allocatedIPs` and `blocks` (the printer
 * columns), computes `totalIPs` from the spec and the ReservedIPs, and removes the entries of Nodes that are gone
 * (only when it knows the complete list of Nodes: a node missing from a partial view must keep its entry).
 */
export interface PoolStatusFields {
  /** What `status` should hold (besides conditions and nodes). */
  fields: { allocatedIPs: number; blocks: number; totalIPs?: number };
  /** Entries of `status.nodes` to remove (Nodes that no longer exist). */
  prune: string[];
}

export function poolStatusFields(pool: KubeObject, liveNodes: ReadonlySet<string> | undefined, reserved: readonly string[]): PoolStatusFields {
  const nodes = ((pool.status as { nodes?: Record<string, Partial<IPPoolNodeStatus> | null> } | undefined)?.nodes) ?? {};
  let allocatedIPs = 0;
  let blocks = 0;
  const prune: string[] = [];
  for (const [name, entry] of Object.entries(nodes)) {
    if (!entry) continue;
    if (liveNodes && !liveNodes.has(name)) {
      prune.push(name);
      continue;
    }
    allocatedIPs += entry.allocatedIPs ?? 0;
    blocks += entry.blocks?.length ?? 0;
  }
  const total = poolTotal(pool.spec ?? {}, reserved);
  return { fields: { allocatedIPs, blocks, ...(total !== undefined ? { totalIPs: total } : {}) }, prune: prune.sort() };
}

/**
 * Addresses the pool can hand out: `ips` (or the whole cidr) minus the network and IPv4 broadcast addresses, the
 * gateway, `excludeIPs` and the ReservedIPs, as the node agents' pool compiler counts them. Undefined for a spec
 * that does not parse or a count past 2^53 (an IPv6 /64 is not a number the column can show exactly).
 */
export function poolTotal(spec: Record<string, unknown>, reserved: readonly string[]): number | undefined {
  try {
    const cidr = parseCidr(String(spec.cidr));
    const family = cidr.family;
    const ips = Array.isArray(spec.ips) ? spec.ips.map(String) : [];
    let base: IpRange[] = ips.length ? normalizeRanges(ips.map(parseIpSpec)) : [{ family, first: cidr.first, last: cidr.last }];
    base = clipRanges(base, cidr.first, cidr.last);
    const remove: IpRange[] = [];
    const hostBits = (family === 'ipv4' ? 32 : 128) - cidr.prefix;
    if (hostBits >= 2) {
      remove.push({ family, first: cidr.first, last: cidr.first });
      if (family === 'ipv4') remove.push({ family, first: cidr.last, last: cidr.last });
    }
    if (typeof spec.gateway === 'string') {
      const g = parseIp(spec.gateway).value;
      remove.push({ family, first: g, last: g });
    }
    const excluded = Array.isArray(spec.excludeIPs) ? spec.excludeIPs.map(String) : [];
    for (const text of [...excluded, ...reserved]) {
      const r = parseIpSpec(text);
      if (r.family === family) remove.push(r);
    }
    const n = countRanges(subtractRanges(base, normalizeRanges(remove)));
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
  } catch {
    return undefined;
  }
}
