import type { IpFamily } from './ip-address.js';
import type { Route } from './model.js';

/** Pool names per family, as in netconf `ippools`, the pod annotation and namespace defaults. Order = preference. */
export interface PoolCandidates {
  ipv4?: string[];
  ipv6?: string[];
}

/** Everything besides the owner that decides which pools an allocation may use. */
export interface AllocationRequest {
  /** Node the pod runs on; blocks are leased to it and nodeAffinity is matched against its labels. */
  node: { name: string; labels?: Record<string, string> };
  /** Explicit pools; outrank every other source (used by tools and tests, not by the CNI path). */
  pools?: PoolCandidates;
  /** Pod annotations; `ipam.strait.io/ippool` / `ipam.strait.io/ippools` name pools (see pool-annotations.ts). */
  podAnnotations?: Record<string, string>;
  podLabels?: Record<string, string>;
  /** Namespace default pools (see `namespaceDefaultsFromAnnotations`). */
  namespaceDefaults?: PoolCandidates;
  namespaceLabels?: Record<string, string>;
  /** `ippools` of the CNI netconf. */
  netconfPools?: PoolCandidates;
}

/** Where the pools of an allocation came from, highest precedence first. */
export type PoolSource = 'request' | 'pod-annotation' | 'namespace-default' | 'netconf' | 'cluster-default';

export interface AllocatedIp {
  /** CIDR form with the subnet's prefix, e.g. `10.77.0.12/24` (CNI result `address`). */
  address: string;
  gateway?: string;
  family: IpFamily;
  pool: string;
  vlan?: number;
}

export interface AllocationResult {
  ips: AllocatedIp[];
  routes: Route[];
  /** Human-readable account of the choice: source, pools skipped and why, pool picked. */
  explanation: string[];
}

/** Why a candidate pool was skipped (also used in NO_POOL_MATCHES error details). */
export interface PoolRejection {
  pool: string;
  family: IpFamily;
  reason: 'not-found' | 'wrong-family' | 'disabled' | 'namespace-affinity' | 'node-affinity' | 'pod-affinity' | 'exhausted';
  detail: string;
}
