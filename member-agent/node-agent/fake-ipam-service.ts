import type { AddRequest, AssignedIp, IpamResult, IpamService, PodIdentity } from './ipam-service.js';

/**
 * A recording IpamService for tests of the CNI protocol layers: one IPv4 address per owner, handed out in
 * order from 10.9.0.10; `failWith` makes `add` reject.
 */
export class FakeIpamService implements IpamService {
  readonly held = new Map<string, AssignedIp>();
  readonly calls: string[] = [];
  next = 10;
  failWith: Error | undefined;
  private key(p: PodIdentity): string {
    return p.podUid ? `${p.podUid}/${p.ifName}` : `${p.containerId}/${p.ifName}`;
  }
  add(req: AddRequest): Promise<IpamResult> {
    this.calls.push(`add ${this.key(req.pod)} ${req.pools.ipv4.join(',')}`);
    if (this.failWith) return Promise.reject(this.failWith);
    const k = this.key(req.pod);
    let ip = this.held.get(k);
    if (!ip) {
      ip = { family: 4, address: `10.9.0.${this.next++}/24`, gateway: '10.9.0.1', pool: 'p1' };
      this.held.set(k, ip);
    }
    return Promise.resolve({ ips: [ip], routes: [{ dst: '0.0.0.0/0', gw: '10.9.0.1' }] });
  }
  release(pod: PodIdentity): Promise<void> {
    this.calls.push(`release ${this.key(pod)}`);
    this.held.delete(this.key(pod));
    return Promise.resolve();
  }
  get(pod: PodIdentity): Promise<AssignedIp[]> {
    const ip = this.held.get(this.key(pod));
    return Promise.resolve(ip ? [ip] : []);
  }
}

