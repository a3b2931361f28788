/**
 * The IPAM model as users write it (pool config files, CRDs, broker API). Plain data; `pool-validation.ts`
 * checks it and compiles it into the ranges the allocator works on.
 */

/** A route handed to the pod with its address (CNI result `routes`). `gw` omitted: via the pool's gateway. */
export interface Route {
  dst: string;
  gw?: string;
}

/** Kubernetes label selector semantics (all terms ANDed; an empty selector matches everything). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** A network: pools whose `subnet` equals this `cidr` inherit its gateway, routes, vlan and exclusions. */
export interface Subnet {
  name: string;
  cidr: string;
  gateway?: string;
  routes?: Route[];
  vlan?: number;
  /** Addresses, CIDRs or `first-last` ranges never handed out from this subnet. */
  excludeIPs?: string[];
}

/**
 * A pool of addresses inside one subnet. Without `ips` the whole subnet (minus network, broadcast, gateway,
 * exclusions and reserved IPs) is usable.
 */
export interface IPPool {
  name: string;
  /** The subnet in CIDR form; also decides the pool's family. */
  subnet: string;
  /** Addresses, CIDRs or `first-last` ranges (inside `subnet`) this pool hands out. */
  ips?: string[];
  excludeIPs?: string[];
  gateway?: string;
  routes?: Route[];
  vlan?: number;
  /** A cluster default pool: used when neither pod, namespace nor netconf names pools. */
  default?: boolean;
  /** A disabled pool hands out nothing new; existing allocations stay valid. */
  disable?: boolean;
  /** Prefix length of the blocks leased to nodes (default 26 for IPv4, 122 for IPv6; at most 16 host bits). */
  blockSize?: number;
  namespaceAffinity?: LabelSelector;
  nodeAffinity?: LabelSelector;
  podAffinity?: LabelSelector;
}

/** Addresses that no pool ever hands out (e.g. held by hardware outside Kubernetes). */
export interface ReservedIP {
  name?: string;
  ips: string[];
}

/** The whole IPAM configuration of one node agent or broker. */
export interface IpamConfig {
  pools: IPPool[];
  subnets?: Subnet[];
  reserved?: ReservedIP[];
}
