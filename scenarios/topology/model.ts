/**
 * The lab's topology model. Two layers:
 *  - `TopologySpec`: what a user writes (file or built-in); most fields optional, addresses defaulted.
 *  - `Topology`: the resolved, fully addressed model every other part works from (planner, lab handle, tests).
 * Both are plain data; `resolveTopology` (resolve.ts) turns one into the other without I/O.
 */

export type HostRole = 'pod' | 'node' | 'gateway' | 'router' | 'external';

export interface NodeSpec {
  /** Short name inside its cluster (`gw1`, `n1`); the host is called `<cluster>-<name>`. */
  name: string;
  /** A gateway candidate (may carry tunnels, egress IPs). */
  gateway?: boolean;
  /** Number of pods on this node. */
  pods?: number;
  /** Also attach this node to the WAN segment (egress gateways). Defaults to `gateway` when the topology has a WAN. */
  wan?: boolean;
}

export interface ClusterSpec {
  /** Short name, `[a-z][a-z0-9]{0,5}` so interface names derived from it fit in 15 bytes. */
  name: string;
  /** Pod CIDR; default `10.<index>1.0.0/16`. Node k gets the k-th /24 of it. */
  podCidr?: string;
  /** Node (underlay) network; default `192.168.<index>.0/24`. */
  underlayCidr?: string;
  /** Explicit nodes, or the shorthand below. */
  nodes?: NodeSpec[];
  /** Shorthand: number of gateway candidates `gw1..gwN` (default 1 when `nodes` is absent). */
  gateways?: number;
  /** Shorthand: number of worker nodes `n1..nN` (default 1 when `nodes` is absent). */
  workers?: number;
  /** Shorthand: pods on each worker (default 1). */
  podsPerWorker?: number;
}

export interface ExternalSpec {
  /** Host name, e.g. `ext`. */
  name: string;
}

export interface TopologySpec {
  name: string;
  clusters: ClusterSpec[];
  /** Underlay router joining the cluster networks; default: present when there are ≥ 2 clusters. */
  router?: boolean;
  /** WAN segment for egress (gateways' eth1 and external hosts); default CIDR 172.31.0.0/24. */
  wan?: { cidr?: string };
  /** External hosts on the WAN (a WAN is implied when this is non-empty). */
  externals?: ExternalSpec[];
}

/** One interface of a host, with the segment or peer it leads to. */
export interface Interface {
  name: string;
  /** `a.b.c.d/len`, or absent for an unnumbered port. */
  address?: string;
  mtu?: number;
  /** Attached to this segment's bridge (in the segment's switch namespace). */
  segment?: string;
  /** Or a veth straight to another host (pod ↔ node, gateway ↔ gateway), or to this same host (a stand-in LAN). */
  peer?: { host: string; ifname: string };
  /** Enslaved to a bridge inside this host (node side of a pod veth). */
  master?: string;
}

export interface Route {
  dst: string;
  via?: string;
  dev?: string;
}

export interface Host {
  name: string;
  role: HostRole;
  cluster?: string;
  /** For pods: the node they run on. */
  node?: string;
  /** Forwards packets (nodes, gateways, router). */
  forwarding: boolean;
  interfaces: Interface[];
  /** A bridge inside this host (node's pod bridge `cbr0`), with the pods' gateway address. */
  bridges: { name: string; address: string }[];
  routes: Route[];
}

/** An L2 segment: one bridge in its own switch namespace so the root namespace stays clean. */
export interface Segment {
  name: string;
  kind: 'cluster' | 'wan';
  cidr: string;
  cluster?: string;
  /** Hosts attached, with the interface name on their side. */
  members: { host: string; ifname: string }[];
}

export interface Cluster {
  name: string;
  index: number;
  podCidr: string;
  underlayCidr: string;
  /** Host names of the cluster's nodes (gateways included), in order. */
  nodes: string[];
  /** Host names of gateway candidates, in priority order; the first is the active one in `lab up --tunnel`. */
  gateways: string[];
  /** Host names of pods. */
  pods: string[];
  /** Each node's pod subnet (node host name → CIDR). */
  nodePodCidrs: Record<string, string>;
  /** Each node's address on the cluster network (node host name → IP). */
  nodeIps: Record<string, string>;
  /** The router's address on this cluster network (next hop to other clusters), if there is a router. */
  routerIp?: string;
  /** The router's interface facing this cluster (capture point for the underlay). */
  routerIf?: string;
}

export interface Topology {
  name: string;
  clusters: Cluster[];
  hosts: Host[];
  segments: Segment[];
  /** Name of the underlay router host, if any. */
  router?: string;
  wan?: { cidr: string; segment: string };
}

export const ROUTER_HOST = 'router';
export const WAN_SEGMENT = 'wan';
export const POD_BRIDGE = 'cbr0';
