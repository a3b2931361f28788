import { ipProblem, readCidr } from '../../crds/index.js';
import type { TunnelPeer, TunnelType } from '../../tunnel/index.js';

/** What the tunnel planner needs of a broker Gateway record. */
export interface BrokerGatewayView {
  readonly cluster: string;
  readonly name: string;
  readonly endpoints: readonly string[];
  readonly tunnelTypes: readonly string[];
  readonly publicKeys: { readonly wireguard?: string; readonly ipsec?: string };
  readonly priority: number;
  readonly health: string;
  /** Its own cluster's lease holder, as its agent last published (absent: not said). */
  readonly active?: boolean;
  /** RFC 3339, set by the broker on every PUT. */
  readonly updatedAt: string;
}

/** What the tunnel planner needs of a broker Cluster record. */
export interface BrokerClusterView {
  readonly id: string;
  readonly podCIDRs: readonly string[];
  readonly serviceCIDRs: readonly string[];
}

export interface TunnelPlanInput {
  /** This gateway's cluster: its own candidates get no tunnel. */
  readonly cluster: string;
  readonly type: TunnelType;
  readonly gateways: readonly BrokerGatewayView[];
  readonly clusters: readonly BrokerClusterView[];
  /** Now, epoch ms. */
  readonly now: number;
  /**
   * A record not re-published for this long counts as gone (its agent died without stepping down): agents
   * re-publish every few seconds, so a few refresh periods.
   */
  readonly staleMs: number;
  /**
   * Picks a remote cluster's active gateway among its usable ones (fresh, not Unhealthy, speaking our type), e.g.
   * the election over this gateway's own probes of them; undefined falls back to the broker's view (remoteActive).
   */
  readonly choose?: (cluster: string, usable: readonly BrokerGatewayView[]) => string | undefined;
}

export interface TunnelPlan {
  /** Desired peers for the tunnel driver, the remote active gateways first. */
  readonly peers: TunnelPeer[];
  /** Remote cluster → the gateway carrying its CIDRs (null: no usable gateway, its CIDRs are not routed). */
  readonly active: Record<string, string | null>;
  /** Remote gateways left out, and why. */
  readonly skipped: { gateway: string; reason: string }[];
}

/**
 * Standby peers still need an allowed-IP so the driver accepts them (and WireGuard keeps their session warm): a
 * /32 from this otherwise unused link-local block (169.254.64.0/18, clear of 169.254.169.254). Only this gateway
 * routes it, into the tunnel, and nothing sends to it.
 */
const PLACEHOLDER_BASE = [169, 254, 64, 0];
const PLACEHOLDER_COUNT = 1 << 14;

function placeholder(i: number): string {
  const n = ((PLACEHOLDER_BASE[2] ?? 0) << 8) + (i % PLACEHOLDER_COUNT);
  return `169.254.${n >> 8}.${n & 255}/32`;
}

const HEALTH_RANK: Record<string, number> = { Healthy: 3, Degraded: 2, Unknown: 1 };

function isV4Cidr(c: string): boolean {
  const r = readCidr(c);
  return r.ok && r.family === 'ipv4';
}

function isV4(s: string): boolean {
  return ipProblem(s, { family: 'ipv4' }) === undefined;
}

/** Peer ids must be `[A-Za-z0-9][A-Za-z0-9_.-]{0,62}`: `<cluster>.<name>`, cut to fit. */
export function peerId(cluster: string, name: string): string {
  return `${cluster}.${name}`.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63) || 'peer';
}

/**
 * The gateway of one remote cluster that carries its traffic, chosen like the cluster's own election: the
 * highest-priority healthy candidate (ties: name). Stale and Unhealthy records never win; with no Healthy one, a
 * fresh Degraded/Unknown one does (a cluster whose agents just started). Undefined when none qualifies.
 */
export function remoteActive(gateways: readonly BrokerGatewayView[], now: number, staleMs: number): BrokerGatewayView | undefined {
  const usable = gateways.filter((g) => (HEALTH_RANK[g.health] ?? 0) > 0 && now - Date.parse(g.updatedAt) <= staleMs);
  return [...usable].sort((a, b) => (HEALTH_RANK[b.health] ?? 0) - (HEALTH_RANK[a.health] ?? 0) || b.priority - a.priority || a.name.localeCompare(b.name))[0];
}

/**
 * Broker gateways → the tunnel peers this gateway keeps: one per gateway candidate of every other cluster that
 * speaks our tunnel type (standbys too, so whichever side fails over finds its sessions established). The remote
 * cluster's pod and service CIDRs go to its active gateway; the other candidates get a placeholder /32.
 */
export function planTunnelPeers(input: TunnelPlanInput): TunnelPlan {
  const skipped: { gateway: string; reason: string }[] = [];
  const active: Record<string, string | null> = {};
  const cidrsOf = new Map(input.clusters.map((c) => [c.id, [...c.podCIDRs, ...c.serviceCIDRs].filter(isV4Cidr)]));
  const remote = input.gateways
    .filter((g) => g.cluster !== input.cluster)
    .sort((a, b) => a.cluster.localeCompare(b.cluster) || a.name.localeCompare(b.name));
  const eligible: { g: BrokerGatewayView; endpoint: string }[] = [];
  const endpoints = new Set<string>();
  for (const g of remote) {
    const key = `${g.cluster}/${g.name}`;
    const endpoint = g.endpoints.find(isV4);
    if (!g.tunnelTypes.includes(input.type)) skipped.push({ gateway: key, reason: `speaks ${g.tunnelTypes.join(',') || 'nothing'}, not ${input.type}` });
    else if (!endpoint) skipped.push({ gateway: key, reason: 'no IPv4 endpoint' });
    else if (endpoints.has(endpoint)) skipped.push({ gateway: key, reason: `endpoint ${endpoint} already used by another gateway` });
    else if (input.type === 'wireguard' && !g.publicKeys.wireguard) skipped.push({ gateway: key, reason: 'no wireguard public key' });
    else if (input.type === 'ipsec' && !g.publicKeys.ipsec) skipped.push({ gateway: key, reason: 'no ipsec public key' });
    else if (!cidrsOf.has(g.cluster)) skipped.push({ gateway: key, reason: `cluster ${g.cluster} is not registered` });
    else {
      endpoints.add(endpoint);
      eligible.push({ g, endpoint });
    }
  }
  const clusters = [...new Set(eligible.map((e) => e.g.cluster))];
  const actives = new Set<string>();
  for (const c of clusters) {
    const mine = eligible.filter((e) => e.g.cluster === c).map((e) => e.g);
    const usable = mine.filter((g) => (HEALTH_RANK[g.health] ?? 0) > 0 && input.now - Date.parse(g.updatedAt) <= input.staleMs);
    const chosen = input.choose?.(c, usable);
    const a = (chosen !== undefined ? usable.find((g) => g.name === chosen) : undefined) ?? remoteActive(mine, input.now, input.staleMs);
    const hasCidrs = (cidrsOf.get(c) ?? []).length > 0;
    active[c] = a && hasCidrs ? a.name : null;
    if (a && hasCidrs) actives.add(`${c}/${a.name}`);
  }
  let standby = 0;
  const peers = eligible.map(({ g, endpoint }): TunnelPeer => {
    const isActive = actives.has(`${g.cluster}/${g.name}`);
    return {
      id: peerId(g.cluster, g.name),
      cluster: g.cluster,
      endpoint,
      remoteCidrs: isActive ? [...(cidrsOf.get(g.cluster) ?? [])] : [placeholder(standby++)],
      ...(input.type === 'wireguard' && g.publicKeys.wireguard ? { publicKey: g.publicKeys.wireguard } : {}),
      ...(input.type === 'ipsec' && g.publicKeys.ipsec ? { ipsecPublicKeyPem: g.publicKeys.ipsec } : {}),
    };
  });
  // Active peers first: a driver applying peers in order hands a cluster's CIDRs to the new active gateway before
  // the old one's are reset, so there is no moment without a route.
  const first = new Set(eligible.filter(({ g }) => actives.has(`${g.cluster}/${g.name}`)).map(({ g }) => peerId(g.cluster, g.name)));
  const order = (p: TunnelPeer): number => (first.has(p.id) ? 0 : 1);
  return { peers: [...peers].sort((a, b) => order(a) - order(b)), active, skipped };
}
