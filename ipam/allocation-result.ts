import type { AllocatedIp, AllocationResult } from './allocation-request.js';
import type { Route } from './model.js';
import type { CompiledPool } from './pool-validation.js';
import type { AllocationRecord } from './stores/allocation-store.js';

/**
 * An owner's records as the CNI-shaped result: IPv4 first, each address with its pool's subnet prefix (a host
 * prefix when the pool is gone from the config), gateway and vlan, and the pools' routes without duplicates. Pure.
 */
export function allocationResult(records: readonly AllocationRecord[], poolNamed: (name: string) => CompiledPool | undefined, explanation: string[]): AllocationResult {
  const ips: AllocatedIp[] = [];
  const routes: Route[] = [];
  const seen = new Set<string>();
  const sorted = [...records].sort((a, b) => (a.family < b.family ? -1 : a.family > b.family ? 1 : 0));
  for (const r of sorted) {
    const pool = poolNamed(r.pool);
    const prefix = pool ? pool.subnet.prefix : r.family === 'ipv4' ? 32 : 128;
    const ip: AllocatedIp = { address: `${r.address}/${prefix}`, family: r.family, pool: r.pool };
    if (pool?.gateway !== undefined) ip.gateway = pool.gateway;
    if (pool?.vlan !== undefined) ip.vlan = pool.vlan;
    ips.push(ip);
    for (const rt of pool?.routes ?? []) {
      const k = `${rt.dst} ${rt.gw ?? ''}`;
      if (!seen.has(k)) {
        seen.add(k);
        routes.push({ ...rt });
      }
    }
  }
  return { ips, routes, explanation };
}
