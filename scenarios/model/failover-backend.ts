import type { Lab } from '../lab/lab.js';
import type { TrafficKind } from './scenario.js';

/** One egress IP live on one gateway: when that gateway was asked (epoch ms) and how long its fence still runs. */
export interface EipSample {
  gateway: string;
  ip: string;
  sampledAt?: number;
  expiresMs?: number;
}

/**
 * What the runner needs from a running failover lab: which hosts play which part, where the agents run, and how
 * to bring a faulted gateway back. The runner injects faults and measures; the backend owns the gateways.
 */
export interface FailoverBackend {
  readonly lab: Lab;
  /** The cluster whose gateways are faulted. */
  readonly cluster: string;
  /** Its gateway candidates, highest priority first. */
  readonly gateways: readonly string[];
  /** The node whose routes steer the client pod's traffic, and the client pod. */
  readonly clientNode: string;
  readonly clientPod: string;
  /** Per traffic kind: the server host and IP, and the source IP it must see. */
  readonly flows: Readonly<Partial<Record<TrafficKind, { host: string; ip: string; expectedSource: string }>>>;
  /** Egress IPs to watch on the gateways. */
  readonly eips: readonly string[];
  /** The route on the client node that shows which gateway carries cross-cluster traffic (e.g. the remote pod CIDR). */
  readonly steeringRoute: string;
  /** Gateway LAN address or device name → gateway name, to read that route. */
  readonly nexthops: Readonly<Record<string, string>>;
  /** The underlay device of a gateway (link-down and partition faults hit it). */
  readonly gatewayLanDev: string;
  /** Pid of a gateway's agent process (null when not running). */
  agentPid(gateway: string): number | null;
  /** Starts a gateway's agent again (after a SIGKILL or a node rebuild). */
  restartAgent(gateway: string): Promise<void>;
  /** Restarts the broker and the lease store it holds. */
  restartBroker(): Promise<void>;
  /** The gateways' lease stores (one, or three for a quorum lease), each a process of its own on one TCP port. */
  readonly leaseStores?: readonly { readonly name: string; readonly port: number; pid(): number | null }[];
  /** SIGKILLs lease store `i`; `restartLeaseStore(i)` starts it again (a quorum's store comes back empty). */
  killLeaseStore?(i: number): Promise<void>;
  restartLeaseStore?(i: number): Promise<void>;
  /** Rebuilds a gateway whose namespace was deleted (node death), agent included. */
  rebuildGateway(gateway: string): Promise<void>;
  /** Egress IPs each gateway serves right now (its kernel state, not what an agent claims). */
  eipHolders(): Promise<EipSample[]>;
  /** The gateway the client node routes cross-cluster traffic through right now. */
  activeGateway(): Promise<string | null>;
  /** Resolves once every candidate is healthy again and one of them is active (between trials). */
  waitSettled(timeoutMs: number): Promise<void>;
  /** Removes everything the backend and the lab created. */
  down(): Promise<void>;
}
