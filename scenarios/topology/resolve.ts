import { StraitError } from '../../api/index.js';
import { addrOf, cidrsOverlap, nthIp, nthSubnet, parseCidr4, type Cidr4 } from './ipv4.js';
import {
  POD_BRIDGE,
  ROUTER_HOST,
  WAN_SEGMENT,
  type Cluster,
  type Host,
  type NodeSpec,
  type Segment,
  type Topology,
  type TopologySpec,
} from './model.js';

/*
 * The address plan (cluster c = its 1-based position):
 *   pod CIDR        10.<c>1.0.0/16, node k (1-based, in node order) owns the k-th /24: 10.<c>1.<k>.0/24
 *                   node bridge cbr0 = .1, pod j on that node = .(1+j)
 *   cluster network 192.168.<c>.0/24: router .1, gateway g .(10+g), worker w .(20+w)
 *   WAN             172.31.0.0/24: gateway g of cluster c .(10c+g), external e .(99+e)
 * Routes never include a default towards the underlay: traffic for a remote cluster that has no tunnel is
 * dropped at the gateway instead of leaking in clear across the router (the capture tests rely on this).
 */

const CLUSTER_NAME = /^[a-z][a-z0-9]{0,5}$/;
const NODE_NAME = /^[a-z][a-z0-9]{0,7}$/;
const RESERVED = new Set([ROUTER_HOST, 'sw', WAN_SEGMENT]);
const MAX_CLUSTERS = 24;

function invalid(message: string, details?: Record<string, unknown>): never {
  throw new StraitError('LAB_TOPOLOGY_INVALID', message, details);
}

function expandNodes(c: TopologySpec['clusters'][number]): NodeSpec[] {
  if (c.nodes && (c.gateways !== undefined || c.workers !== undefined || c.podsPerWorker !== undefined)) {
    invalid(`cluster ${c.name}: give either "nodes" or the shorthand (gateways/workers/podsPerWorker), not both`);
  }
  if (c.nodes) return c.nodes;
  const gateways = c.gateways ?? 1;
  const workers = c.workers ?? 1;
  const pods = c.podsPerWorker ?? 1;
  for (const [k, v] of [['gateways', gateways], ['workers', workers], ['podsPerWorker', pods]] as const) {
    if (!Number.isInteger(v) || v < 0) invalid(`cluster ${c.name}: ${k} must be a non-negative integer`);
  }
  // Workers first so that n1 owns the first pod /24 (10.<c>1.1.0/24), which keeps addresses predictable.
  const nodes: NodeSpec[] = [];
  for (let w = 1; w <= workers; w++) nodes.push({ name: `n${w}`, pods });
  for (let g = 1; g <= gateways; g++) nodes.push({ name: `gw${g}`, gateway: true, pods: 0 });
  return nodes;
}

/** Turns a spec into the fully addressed topology. Pure; throws LAB_TOPOLOGY_INVALID on any inconsistency. */
export function resolveTopology(spec: TopologySpec): Topology {
  if (!spec.name || typeof spec.name !== 'string') invalid('topology needs a name');
  if (!Array.isArray(spec.clusters) || spec.clusters.length === 0) invalid('topology needs at least one cluster');
  if (spec.clusters.length > MAX_CLUSTERS) invalid(`at most ${MAX_CLUSTERS} clusters`);

  const externals = spec.externals ?? [];
  const hasWan = spec.wan !== undefined || externals.length > 0;
  const wanCidrText = spec.wan?.cidr ?? '172.31.0.0/24';
  const wanCidr = hasWan ? parseCidr4(wanCidrText) : undefined;
  const hasRouter = spec.router ?? spec.clusters.length > 1;

  const hosts: Host[] = [];
  const segments: Segment[] = [];
  const clusters: Cluster[] = [];
  const hostNames = new Set<string>();
  const addHost = (h: Host): Host => {
    if (hostNames.has(h.name)) invalid(`duplicate host name ${h.name}`);
    hostNames.add(h.name);
    hosts.push(h);
    return h;
  };
  const router: Host | undefined = hasRouter
    ? { name: ROUTER_HOST, role: 'router', forwarding: true, interfaces: [], bridges: [], routes: [] }
    : undefined;
  if (router) addHost(router);
  const wanSegment: Segment | undefined = wanCidr
    ? { name: WAN_SEGMENT, kind: 'wan', cidr: wanCidrText, members: [] }
    : undefined;

  const clusterNames = new Set<string>();
  const claimed: { what: string; cidr: Cidr4 }[] = [];
  const claim = (what: string, text: string): Cidr4 => {
    const c = parseCidr4(text);
    for (const o of claimed) if (cidrsOverlap(o.cidr, c)) invalid(`${what} ${text} overlaps ${o.what}`);
    claimed.push({ what: `${what} ${text}`, cidr: c });
    return c;
  };
  if (wanCidr) claim('WAN', wanCidrText);

  spec.clusters.forEach((cs, i) => {
    const index = i + 1;
    if (!CLUSTER_NAME.test(cs.name ?? '')) invalid(`cluster name "${cs.name}" must match ${CLUSTER_NAME}`);
    if (RESERVED.has(cs.name)) invalid(`cluster name "${cs.name}" is reserved`);
    if (clusterNames.has(cs.name)) invalid(`duplicate cluster name ${cs.name}`);
    clusterNames.add(cs.name);
    const podCidrText = cs.podCidr ?? `10.${index}1.0.0/16`;
    const underlayText = cs.underlayCidr ?? `192.168.${index}.0/24`;
    const podCidr = claim(`cluster ${cs.name} pod CIDR`, podCidrText);
    const underlay = claim(`cluster ${cs.name} network`, underlayText);
    if (podCidr.prefix > 23) invalid(`cluster ${cs.name}: pod CIDR must be /23 or larger (a /24 per node)`);
    if (underlay.prefix > 24) invalid(`cluster ${cs.name}: cluster network must be /24 or larger`);
    const ulLen = underlay.prefix;

    const nodes = expandNodes(cs);
    if (nodes.length === 0) invalid(`cluster ${cs.name} has no nodes`);
    const segment: Segment = { name: cs.name, kind: 'cluster', cidr: underlayText, cluster: cs.name, members: [] };
    segments.push(segment);
    const cluster: Cluster = {
      name: cs.name,
      index,
      podCidr: podCidrText,
      underlayCidr: underlayText,
      nodes: [],
      gateways: [],
      pods: [],
      nodePodCidrs: {},
      nodeIps: {},
    };
    if (router) {
      const ifname = `ul-${cs.name}`;
      cluster.routerIp = nthIp(underlay, 1, `router on ${cs.name}`);
      cluster.routerIf = ifname;
      router.interfaces.push({ name: ifname, address: `${cluster.routerIp}/${ulLen}`, segment: cs.name });
      segment.members.push({ host: ROUTER_HOST, ifname });
    }

    let g = 0;
    let w = 0;
    const nodeHosts: Host[] = [];
    nodes.forEach((ns, k) => {
      if (!NODE_NAME.test(ns.name ?? '')) invalid(`cluster ${cs.name}: node name "${ns.name}" must match ${NODE_NAME}`);
      const pods = ns.pods ?? (ns.gateway ? 0 : 1);
      if (!Number.isInteger(pods) || pods < 0 || pods > 200) invalid(`node ${cs.name}-${ns.name}: pods must be 0..200`);
      const name = `${cs.name}-${ns.name}`;
      const ordinal = ns.gateway ? ++g : ++w;
      if (ns.gateway && g > 9) invalid(`cluster ${cs.name}: at most 9 gateways`);
      const ip = nthIp(underlay, ns.gateway ? 10 + ordinal : 20 + ordinal, `node ${name}`);
      if (!ns.gateway && 20 + ordinal > 254) invalid(`cluster ${cs.name}: too many workers`);
      const podSubnet = nthSubnet(podCidr, 24, k + 1, `pod subnet of ${name}`);
      const host = addHost({
        name,
        role: ns.gateway ? 'gateway' : 'node',
        cluster: cs.name,
        forwarding: true,
        interfaces: [{ name: 'eth0', address: `${ip}/${ulLen}`, segment: cs.name }],
        bridges: [],
        routes: [],
      });
      segment.members.push({ host: name, ifname: 'eth0' });
      cluster.nodes.push(name);
      if (ns.gateway) cluster.gateways.push(name);
      cluster.nodeIps[name] = ip;
      cluster.nodePodCidrs[name] = podSubnet;
      nodeHosts.push(host);

      const wan = ns.wan ?? (ns.gateway === true && wanSegment !== undefined);
      if (wan) {
        if (!wanCidr || !wanSegment) invalid(`node ${name} asks for the WAN but the topology has none`);
        const wanIp = nthIp(wanCidr, 10 * index + (ns.gateway ? ordinal : 5 + ordinal), `WAN address of ${name}`);
        host.interfaces.push({ name: 'eth1', address: `${wanIp}/${wanCidr.prefix}`, segment: WAN_SEGMENT });
        wanSegment.members.push({ host: name, ifname: 'eth1' });
      }

      // Every node has its pod bridge with the subnet's .1, pods or not (like a CNI bridge): a gateway then owns
      // an address inside its cluster's pod CIDR, which IPsec (libipsec) needs as the source of its tunnel routes.
      const sub = parseCidr4(podSubnet);
      const bridgeIp = nthIp(sub, 1, `pod bridge of ${name}`);
      host.bridges.push({ name: POD_BRIDGE, address: `${bridgeIp}/24` });
      for (let j = 1; j <= pods; j++) {
        const podName = `${name}-p${j}`;
        const vif = `vp${j}`;
        host.interfaces.push({ name: vif, peer: { host: podName, ifname: 'eth0' }, master: POD_BRIDGE });
        addHost({
          name: podName,
          role: 'pod',
          cluster: cs.name,
          node: name,
          forwarding: false,
          interfaces: [{ name: 'eth0', address: `${nthIp(sub, 1 + j, `pod ${podName}`)}/24`, peer: { host: name, ifname: vif } }],
          bridges: [],
          routes: [{ dst: 'default', via: bridgeIp }],
        });
        cluster.pods.push(podName);
      }
    });

    // Routing inside the cluster (host-gw style: every node reaches every other node's pods directly) and
    // towards the other clusters' networks via the router.
    for (const h of nodeHosts) {
      for (const other of nodeHosts) {
        if (other === h) continue;
        h.routes.push({ dst: cluster.nodePodCidrs[other.name] ?? '', via: cluster.nodeIps[other.name] ?? '' });
      }
    }
    clusters.push(cluster);
  });

  // Cross-cluster underlay routes (filled in after all clusters exist).
  if (router) {
    for (const c of clusters) {
      for (const name of c.nodes) {
        const h = hosts.find((x) => x.name === name);
        for (const other of clusters) if (other !== c && c.routerIp) h?.routes.push({ dst: other.underlayCidr, via: c.routerIp });
      }
    }
  }

  // Egress: workers that have no WAN leg send everything else to their cluster's first gateway.
  if (wanSegment) {
    for (const c of clusters) {
      const gw = c.gateways[0];
      if (!gw) continue;
      for (const name of c.nodes) {
        const h = hosts.find((x) => x.name === name);
        if (h && h.role === 'node' && !h.interfaces.some((i) => i.segment === WAN_SEGMENT)) {
          h.routes.push({ dst: 'default', via: c.nodeIps[gw] ?? '' });
        }
      }
    }
  }

  externals.forEach((e, i) => {
    if (!NODE_NAME.test(e.name ?? '')) invalid(`external host name "${e.name}" must match ${NODE_NAME}`);
    if (RESERVED.has(e.name)) invalid(`external host name "${e.name}" is reserved`);
    if (!wanCidr || !wanSegment) invalid('externals need a WAN');
    const ip = nthIp(wanCidr, 100 + i, `external ${e.name}`);
    addHost({
      name: e.name,
      role: 'external',
      forwarding: false,
      interfaces: [{ name: 'eth0', address: `${ip}/${wanCidr.prefix}`, segment: WAN_SEGMENT }],
      bridges: [],
      routes: [],
    });
    wanSegment.members.push({ host: e.name, ifname: 'eth0' });
  });
  if (wanSegment) segments.push(wanSegment);

  // Every address must be unique (WAN offsets of many clusters can meet the externals' range).
  const seen = new Map<string, string>();
  for (const h of hosts) {
    const all = [...h.interfaces.map((i) => i.address), ...h.bridges.map((b) => b.address)];
    for (const a of all) {
      if (!a) continue;
      const ip = addrOf(a);
      const prev = seen.get(ip);
      if (prev) invalid(`address ${ip} given to both ${prev} and ${h.name}`);
      seen.set(ip, h.name);
    }
  }

  return {
    name: spec.name,
    clusters,
    hosts,
    segments,
    ...(router ? { router: ROUTER_HOST } : {}),
    ...(wanSegment ? { wan: { cidr: wanCidrText, segment: WAN_SEGMENT } } : {}),
  };
}

/** Every address (without prefix length) a host owns, in interface order. */
export function hostAddresses(h: Host): string[] {
  return [...h.interfaces.map((i) => i.address), ...h.bridges.map((b) => b.address)]
    .filter((a): a is string => a !== undefined)
    .map(addrOf);
}
