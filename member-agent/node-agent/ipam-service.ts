/**
 * What the CNI handler needs from IP address management on this node. `EngineIpamService` sits on the ipam/
 * engine with a durable file store; the engine's blocks come from the store itself (standalone) or from the broker
 * (`BrokerBlockLeaser`). Implementations are idempotent per owner and only resolve once the change is durable.
 */
export interface PodIdentity {
  containerId: string;
  ifName: string;
  netns?: string;
  podNamespace?: string;
  podName?: string;
  podUid?: string;
}

export interface AddRequest {
  pod: PodIdentity;
  /** Pools named in the CNI netconf (`ipam.ippools`), by family. Empty means "let selection decide". */
  pools: { ipv4: string[]; ipv6: string[] };
}

export interface Route {
  dst: string;
  gw?: string;
}

export interface AssignedIp {
  family: 4 | 6;
  /** Address with the subnet's prefix length, e.g. `10.77.0.10/24`. */
  address: string;
  gateway?: string;
  pool: string;
}

export interface IpamResult {
  ips: AssignedIp[];
  /** Routes for the pod, including the default route via the pool's gateway. */
  routes: Route[];
}

export interface IpamService {
  /** Addresses for this pod interface; the same ones again when it already has them. */
  add(req: AddRequest): Promise<IpamResult>;
  /** Frees whatever this pod interface holds; nothing held is fine. */
  release(pod: PodIdentity): Promise<void>;
  /** What this pod interface holds now (empty when nothing). */
  get(pod: PodIdentity): Promise<AssignedIp[]>;
}
