import type { NodeMasqueradeIntent } from '../egress/datapath.js';

/** What the broker says about the joined clusters' networks (ClusterNetworkSource keeps it current). */
export interface ClusterNetworks {
  readonly clusters: readonly { readonly id: string; readonly podCIDRs: readonly string[]; readonly serviceCIDRs: readonly string[] }[];
  readonly pools: readonly { readonly name: string; readonly cidr: string; readonly purpose: string; readonly cluster?: string | undefined }[];
}

export interface MasqueradePlanInput {
  /** This node's cluster. */
  readonly cluster: string;
  readonly networks: ClusterNetworks;
  /** Cluster CIDRs given on the command line (`--cluster-cidr`, `--remote-cidr`): never masqueraded towards either. */
  readonly staticClusterCidrs: readonly string[];
  /** The node's EgressPolicy rules (their marks). */
  readonly egressRules: readonly { readonly mark: number }[];
}

/**
 * The node masquerade for one state of the world, pure. Sources: this cluster's pod CIDRs and the pod pools its
 * node agents may hand out (its own and the admin's). Destinations kept: every joined cluster's pod and service
 * CIDRs and every pod pool (a pod of another cluster may have its address from a pool outside that cluster's pod
 * CIDRs), plus the command line's cluster CIDRs. The egress marks are the EgressPolicy rules'.
 */
export function masqueradeIntent(i: MasqueradePlanInput): NodeMasqueradeIntent {
  const own = i.networks.clusters.find((c) => c.id === i.cluster);
  const podPools = i.networks.pools.filter((p) => p.purpose === 'pods');
  return {
    podCidrs: [...(own?.podCIDRs ?? []), ...podPools.filter((p) => p.cluster === undefined || p.cluster === i.cluster).map((p) => p.cidr)],
    clusterCidrs: [...i.networks.clusters.flatMap((c) => [...c.podCIDRs, ...c.serviceCIDRs]), ...podPools.map((p) => p.cidr), ...i.staticClusterCidrs],
    egressMarks: i.egressRules.map((r) => r.mark),
  };
}

/**
 * Sources an EgressPolicy rule covers in `next` and none did in `prev`: their masqueraded flows must be forgotten so
 * the gateway sees them with the pod's address from now on. Compared as written (a source spelled differently
 * is forgotten once more, which costs nothing).
 */
export function newlySelectedSources(prev: readonly { readonly sources: readonly string[] }[], next: readonly { readonly sources: readonly string[] }[]): string[] {
  const before = new Set(prev.flatMap((r) => r.sources));
  return [...new Set(next.flatMap((r) => r.sources))].filter((s) => !before.has(s)).sort();
}
