import type { Host, Interface, Segment, Topology } from './model.js';

/*
 * Topologies written out fully addressed (no resolve step) for the rooms' own root tests and benches, so that
 * they are built, recorded and torn down by the same lab as the cluster topologies (`labUp`, `strait lab down
 * <run>`): the tunnel drivers' two gateways, the gateway's egress LAN/WAN and the CNI bench's node.
 * Their addresses are the ones those tests were written against.
 */

function host(name: string, role: Host['role'], interfaces: Interface[], extra: Partial<Host> = {}): Host {
  return { name, role, forwarding: false, interfaces, bridges: [], routes: [], ...extra };
}

function segment(name: string, kind: Segment['kind'], cidr: string, members: [string, string][]): Segment {
  return { name, kind, cidr, members: members.map(([h, ifname]) => ({ host: h, ifname })) };
}

/** The two gateways' fixed addresses (see `twoGatewaysTopology`). */
export const TWO_GATEWAYS_NET = {
  gwa: { underlayIp: '192.168.77.1', podCidr: '10.10.1.0/24', podIp: '10.10.1.1', plainIp: '10.99.0.1' },
  gwb: { underlayIp: '192.168.77.2', podCidr: '10.20.1.0/24', podIp: '10.20.1.1', plainIp: '10.99.0.2' },
} as const;

/**
 * Two gateways `gwa`, `gwb` joined by a veth underlay `ul0` (192.168.77.1/.2), a plain routed pair `pl0`
 * (10.99.0.1/.2 /30) for baselines, and in each a veth pair `pod0`–`pod1` with both ends inside the gateway
 * standing in for the pod LAN (this kernel has no dummy links), `pod0` holding the pod subnet's .1 so the
 * gateway can source traffic from its pod CIDR. Not forwarding: the tunnel tests only talk gateway to gateway.
 *
 *   gwa [pod0 10.10.1.1/24] ul0 192.168.77.1/24 ──veth── ul0 192.168.77.2/24 gwb [pod0 10.20.1.1/24]
 */
export function twoGatewaysTopology(): Topology {
  const side = (me: 'gwa' | 'gwb', other: 'gwa' | 'gwb'): Host => {
    const n = TWO_GATEWAYS_NET[me];
    return host(me, 'gateway', [
      { name: 'ul0', address: `${n.underlayIp}/24`, peer: { host: other, ifname: 'ul0' } },
      { name: 'pl0', address: `${n.plainIp}/30`, peer: { host: other, ifname: 'pl0' } },
      { name: 'pod0', address: `${n.podIp}/24`, peer: { host: me, ifname: 'pod1' } },
      { name: 'pod1', peer: { host: me, ifname: 'pod0' } },
    ]);
  };
  return { name: 'two-gateways', clusters: [], hosts: [side('gwa', 'gwb'), side('gwb', 'gwa')], segments: [] };
}

/** The egress topology's fixed addresses (see `egressTopology`). */
export const EGRESS_NET = {
  pod: '10.50.0.2', gw1: '10.50.0.11', gw2: '10.50.0.12', lanCidr: '10.50.0.0/24',
  gw1Wan: '172.31.0.11', gw2Wan: '172.31.0.12', ext: '172.31.0.100', wanCidr: '172.31.0.0/24',
};

/**
 * The small egress topology of the lab cookbook (section 5): `pod` 10.50.0.2, `gw1` .11 and `gw2` .12 on the
 * `lan` segment; the gateways' eth1 (172.31.0.11/.12) and `ext` 172.31.0.100 on the `wan` segment. The pod's
 * default route goes via gw1 (non-policy traffic); the gateways forward.
 */
export function egressTopology(): Topology {
  const N = EGRESS_NET;
  const gw = (name: 'gw1' | 'gw2', lan: string, wan: string): Host =>
    host(name, 'gateway', [
      { name: 'eth0', address: `${lan}/24`, segment: 'lan' },
      { name: 'eth1', address: `${wan}/24`, segment: 'wan' },
    ], { forwarding: true });
  return {
    name: 'egress-lan',
    clusters: [],
    hosts: [
      host('pod', 'pod', [{ name: 'eth0', address: `${N.pod}/24`, segment: 'lan' }], { routes: [{ dst: 'default', via: N.gw1 }] }),
      gw('gw1', N.gw1, N.gw1Wan),
      gw('gw2', N.gw2, N.gw2Wan),
      host('ext', 'external', [{ name: 'eth0', address: `${N.ext}/24`, segment: 'wan' }]),
    ],
    segments: [
      segment('lan', 'cluster', N.lanCidr, [['pod', 'eth0'], ['gw1', 'eth0'], ['gw2', 'eth0']]),
      segment('wan', 'wan', N.wanCidr, [['gw1', 'eth1'], ['gw2', 'eth1'], ['ext', 'eth0']]),
    ],
    wan: { cidr: N.wanCidr, segment: 'wan' },
  };
}

/**
 * One bare `node` namespace where a CNI runtime's plugins keep their bridge (so nothing lands in the root
 * namespace); its pods come and go while the lab runs (`Lab.addHost(cniPod(name))`), the plugin wires them.
 */
export function cniNodeTopology(): Topology {
  return { name: 'cni-node', clusters: [], hosts: [host('node', 'node', [])], segments: [] };
}

/** A CNI pod of `cniNodeTopology`: an empty namespace for the bridge plugin to wire. */
export function cniPod(name: string): Host {
  return host(name, 'pod', [], { node: 'node' });
}
