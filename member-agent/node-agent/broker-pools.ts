import { isStraitError, type IPPool as BrokerPool, type ReservedIP as BrokerReservedIP } from '../../api/index.js';
import { parseIPPool, type IpamConfig, type IpamPool } from '../../ipam/index.js';

/** A broker pool this node agent does not use, and why (the node agent's own pool validation said so). */
export interface RefusedPool {
  pool: string;
  code: string;
  message: string;
}

export interface BrokerPoolConfig {
  config: IpamConfig;
  refused: RefusedPool[];
}

/**
 * The broker's `pods` pools as the engine's pool config: each with its whole spec (ips, excludeIPs, gateway,
 * routes, vlan, affinities, disable), a default pool only where its spec says `default: true`, blocks as the broker
 * cuts them. Each pool is checked on its own with the node agents' validation: one the node cannot use (a broker
 * older than this agent, a rule this agent refuses) is left out and reported, never the end of the agent — a pool of
 * one cluster must not take down another cluster's nodes. The broker's ReservedIPs are the config's `reserved`: no
 * pool hands them out.
 */
export function poolsFromBroker(pools: readonly BrokerPool[], reserved: readonly BrokerReservedIP[] = []): BrokerPoolConfig {
  const out: IpamPool[] = [];
  const refused: RefusedPool[] = [];
  for (const p of pools) {
    if (p.purpose !== 'pods') continue;
    const spec: IpamPool = {
      name: p.name,
      subnet: p.cidr,
      blockSize: p.blockSize,
      default: p.default ?? false,
      ...(p.disable ? { disable: true } : {}),
      ...(p.ips?.length ? { ips: p.ips } : {}),
      ...(p.excludeIPs?.length ? { excludeIPs: p.excludeIPs } : {}),
      ...(p.gateway !== undefined ? { gateway: p.gateway } : {}),
      ...(p.routes?.length ? { routes: p.routes } : {}),
      ...(p.vlan !== undefined ? { vlan: p.vlan } : {}),
      ...(p.namespaceAffinity ? { namespaceAffinity: p.namespaceAffinity } : {}),
      ...(p.nodeAffinity ? { nodeAffinity: p.nodeAffinity } : {}),
      ...(p.podAffinity ? { podAffinity: p.podAffinity } : {}),
    };
    try {
      out.push(parseIPPool(spec));
    } catch (e) {
      if (!isStraitError(e)) throw e;
      refused.push({ pool: p.name, code: e.code, message: e.message });
    }
  }
  return { config: { pools: out, ...(reserved.length ? { reserved: reserved.map((r) => ({ name: r.name, ips: [...r.ips] })) } : {}) }, refused };
}
