import type { AllocationResult, IpamEngine, Owner, PoolCandidates } from '../../ipam/index.js';
import type { AddRequest, AssignedIp, IpamResult, IpamService, PodIdentity, Route } from './ipam-service.js';
import { podAllocationRequest, type PodView } from './pod-request.js';

/**
 * The node agent's IpamService on top of the ipam/ engine: translates CNI identities into engine owners and
 * engine results into CNI terms (adding the default route via each family's gateway).
 */
export class EngineIpamService implements IpamService {
  constructor(
    private readonly engine: IpamEngine,
    private readonly nodeName: string,
    /**
     * The pod behind a CNI call, its namespace and this node (`NodePodDirectory.view`): their annotations and labels
     * decide the pool. Absent without a kubeconfig: then only the netconf and the cluster default pools apply.
     */
    private readonly podView?: (pod: PodIdentity) => Promise<PodView | undefined>,
  ) {}

  async add(req: AddRequest): Promise<IpamResult> {
    const netconfPools: PoolCandidates = {};
    if (req.pools.ipv4.length > 0) netconfPools.ipv4 = req.pools.ipv4;
    if (req.pools.ipv6.length > 0) netconfPools.ipv6 = req.pools.ipv6;
    const view = await this.podView?.(req.pod);
    const sts = view?.pod.statefulSet;
    const res = await this.engine.allocate({ ...toOwner(req.pod), ...(sts ? { statefulSet: sts } : {}) }, podAllocationRequest(view, this.nodeName, netconfPools));
    return toIpamResult(res);
  }

  async release(pod: PodIdentity): Promise<void> {
    await this.engine.release(toOwner(pod));
  }

  async get(pod: PodIdentity): Promise<AssignedIp[]> {
    const res = await this.engine.check(toOwner(pod));
    return res ? toIpamResult(res).ips : [];
  }
}

export function toOwner(pod: PodIdentity): Owner {
  return {
    containerId: pod.containerId,
    ifName: pod.ifName,
    ...(pod.podUid ? { podUid: pod.podUid } : {}),
    ...(pod.podNamespace ? { namespace: pod.podNamespace } : {}),
    ...(pod.podName ? { podName: pod.podName } : {}),
  };
}

export function toIpamResult(res: AllocationResult): IpamResult {
  const ips: AssignedIp[] = res.ips.map((ip) => ({
    family: ip.family === 'ipv6' ? 6 : 4,
    address: ip.address,
    pool: ip.pool,
    ...(ip.gateway ? { gateway: ip.gateway } : {}),
  }));
  const routes: Route[] = res.routes.map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }));
  // Pods need a default route to leave their subnet; pools configure only extra routes.
  for (const ip of ips) {
    const dst = ip.family === 4 ? '0.0.0.0/0' : '::/0';
    if (ip.gateway && !routes.some((r) => r.dst === dst)) routes.push({ dst, gw: ip.gateway });
  }
  return { ips, routes };
}
