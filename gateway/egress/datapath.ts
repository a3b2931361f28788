import type { GatewayMode } from '../failover/election.js';
import type { EgressRule } from './egress-resolve.js';
import type { CandidateAddress } from '../agents/agent-argv.js';

/**
 * Intent-level datapath interfaces. One real Linux implementation (datapath-linux.ts, over `ip`/`nft`/`arping`)
 * and one recording fake (datapath-fake.ts); both pass datapath.conformance.ts. Every method is idempotent:
 * calling it again with the same intent changes nothing and never fails because the state already exists.
 */

/** Routes from a node to remote-cluster CIDRs through the active gateway(s). */
export interface NodeRoutesIntent {
  readonly remoteCidrs: readonly string[];
  /** Gateway addresses, best first. Empty: the routes are removed (better unreachable than a dead next hop). */
  readonly nexthops: readonly string[];
  /** active-standby routes via nexthops[0]; active-active spreads flows over all (resilient ECMP group). */
  readonly mode: GatewayMode;
}

export interface NodeRoutes {
  /**
   * Replaces existing routes without error; removes routes it installed for CIDRs no longer listed, including routes
   * an earlier run of the agent installed (read from the kernel, not from memory).
   */
  ensure(intent: NodeRoutesIntent): Promise<void>;
  /** Installed routes: CIDR → next hops. */
  current(): Promise<Map<string, string[]>>;
  clear(): Promise<void>;
}

/** Node side of egress: which traffic goes to which EgressGateway, and through which candidate right now. */
export interface NodeEgressConfig {
  readonly rules: readonly EgressRule[];
  /** Candidates of every EgressGateway (the node builds one VXLAN to each). */
  readonly candidates: readonly CandidateAddress[];
  /** Never steered (cluster pod/service CIDRs); gateway addresses are always excluded too. */
  readonly clusterCidrs: readonly string[];
}

export interface NodeEgress {
  /** Marks + policy routing + VXLAN devices for the config. Replaces a previous config. */
  apply(config: NodeEgressConfig): Promise<void>;
  /**
   * Points each EgressGateway's traffic at one candidate (one route replace per gateway: the failover step).
   * `undefined` blackholes it: policy traffic must not leave with the node's own address.
   */
  steer(active: ReadonlyMap<string, string | undefined>): Promise<void>;
  /** EgressGateway → candidate currently steered to (null when blackholed). */
  current(): Promise<Map<string, string | null>>;
  clear(): Promise<void>;
}

/**
 * The node's own masquerade (docs/cni.md): what this cluster's pods send outside every joined cluster leaves the
 * node with the node's address, unless it is egress-steered (an EgressPolicy rule's fwmark, or out through the
 * egress VXLAN device): that must reach the gateway with the pod's address, where the egress SNAT applies.
 * CIDR lists may overlap and mix families; implementations normalise them (`current` returns the normal form,
 * node-masquerade-nft.ts `normalizeMasqueradeIntent`).
 */
export interface NodeMasqueradeIntent {
  /** Sources masqueraded: this cluster's pod CIDRs and pod pools. */
  readonly podCidrs: readonly string[];
  /** Destinations never masqueraded: the pod and service CIDRs (and pod pools) of every joined cluster. */
  readonly clusterCidrs: readonly string[];
  /** fwmarks of the EgressPolicy rules (their traffic is steered to a gateway, never masqueraded). */
  readonly egressMarks: readonly number[];
}

export interface NodeMasquerade {
  /**
   * Installs or updates the masquerade. A change of the lists is one transaction of set element changes: the rule
   * stays, and established flows keep the translation they started with (none is flushed). Idempotent.
   */
  ensure(intent: NodeMasqueradeIntent): Promise<void>;
  /**
   * Forgets the translations it made for flows from `sources` (CIDRs): their next packets are routed and translated
   * anew. A pod an EgressPolicy now selects gets its egress IP on the flows it already runs (a flow masqueraded
   * once would otherwise keep the node's address at the gateway, where the policy's SNAT never matches it).
   * Fine when there are none.
   */
  forget(sources: readonly string[]): Promise<void>;
  /** What is installed (normalised), or undefined when nothing is. */
  current(): Promise<NodeMasqueradeIntent | undefined>;
  /** Removes the masquerade (`--no-masquerade` at start, tests). Fine when there is none. */
  clear(): Promise<void>;
}

export interface GatewayEgressConfig {
  /** Rules of the EgressGateways this candidate belongs to. */
  readonly rules: readonly EgressRule[];
  /** Every egress IP this candidate may ever serve (the fence drops them whenever they are not live). */
  readonly egressIps: readonly string[];
}

/**
 * Gateway side of egress: SNAT to egress IPs, and the kernel fence. An egress IP is *live* only while its fence
 * element has not timed out: even a stopped (SIGSTOP) agent stops answering ARP for it and stops sending from it
 * when the deadline passes, so a successor never overlaps.
 */
export interface GatewayEgress {
  apply(config: GatewayEgressConfig): Promise<void>;
  /**
   * Makes `ips` live until the absolute deadline `until` (performance.now() clock), assigning them and announcing
   * them with gratuitous ARP / unsolicited NA when they were not live, or extends them. The remaining time is taken
   * immediately before the kernel is told, so a process frozen in between can never push the deadline out. A
   * deadline already past does nothing. Returns the IPs that were newly made live.
   */
  serve(ips: readonly string[], until: number): Promise<string[]>;
  /** Stops serving at once (fence first, then the address). No argument: all. */
  release(ips?: readonly string[]): Promise<void>;
  /** Egress IPs live right now. */
  live(): Promise<string[]>;
  clear(): Promise<void>;
}
