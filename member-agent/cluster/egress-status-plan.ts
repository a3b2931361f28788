import type { AddressLease, Gateway as BrokerGateway } from '../../api/index.js';
import { matchesSelector, parseIp, parseIpSpec, rangesContain, type IpRange } from '../../ipam/index.js';
import { policyKey } from '../../gateway/index.js';
import type { Condition, EgressGatewaySpec, EgressPolicySpec } from '../../crds/index.js';
import type { KubeObject } from './kube-client.js';
import type { NodeInfo } from './sync-plan.js';
import type { EgressKind } from './egress-push-plan.js';

/**
 * The pure half of the egress statuses the member agent writes. Its inputs are what it already follows: the
 * cluster's egress CRs and Nodes, and from the broker this cluster's gateway records (each candidate's gateway agent
 * publishes its health and whether it holds the gateway lease, about every 2 s) and this cluster's egress IP
 * leases (owner `egress:<cluster>:<policy>`, the same lease every candidate resolves).
 *
 * - EgressGateway: the candidates (spec.nodes in order, else the Nodes matching spec.nodeSelector), each with its
 *   health and whether it is active, the active node and the egress IPs it serves; Ready when a candidate is active.
 * - EgressPolicy / EgressClusterPolicy: the gateway that carries it, its egress IPs, the active gateway node; Ready
 *   when all three are known, else False with the reason (GatewayNotFound, NoActiveGatewayNode, EgressIPPending, …).
 *
 * A record not refreshed for `staleMs` (its agent was killed, or its node is cut off) counts as Unknown and not
 * active: a dead agent cannot take its `active` flag back itself.
 */

export interface EgressStatusInputs {
  clusterId: string;
  egressGateways: readonly KubeObject[];
  egressPolicies: readonly KubeObject[];
  egressClusterPolicies: readonly KubeObject[];
  nodes: readonly NodeInfo[];
  /** The broker's gateway records (any cluster; only this cluster's are read). */
  gateways: ReadonlyMap<string, BrokerGateway>;
  /** This cluster's egress IP leases. */
  egressLeases: ReadonlyMap<string, AddressLease>;
  now: number;
  staleMs: number;
}

export interface CandidateStatus {
  name: string;
  ready: boolean;
  active: boolean;
  health: 'Healthy' | 'Degraded' | 'Unhealthy' | 'Unknown';
  egressIPs?: string[];
}

export interface EgressStatusVerdict {
  kind: EgressKind;
  namespace?: string;
  name: string;
  /** The status fields other than conditions (a merge patch sets exactly these; absent ones are removed). */
  fields: Record<string, unknown>;
  ready: { status: Condition['status']; reason: string; message: string };
}

interface GatewayState {
  name: string;
  spec: EgressGatewaySpec;
  candidates: CandidateStatus[];
  activeNode: string | undefined;
  eips: Set<string>;
}

type PolicySpec = Pick<EgressPolicySpec, 'egressGatewayName' | 'egressIP'>;

export function planEgressStatuses(i: EgressStatusInputs): EgressStatusVerdict[] {
  const gateways = new Map<string, GatewayState>();
  for (const g of i.egressGateways) {
    if (g.metadata.deletionTimestamp) continue;
    const spec = (g.spec ?? {}) as EgressGatewaySpec;
    const names = spec.nodes && spec.nodes.length > 0
      ? [...spec.nodes]
      : i.nodes.filter((n) => spec.nodeSelector && matchesSelector(spec.nodeSelector, n.labels)).map((n) => n.name).sort();
    const claims: { name: string; at: number }[] = [];
    const listed = names.map((name): CandidateStatus => {
      const rec = i.gateways.get(`${i.clusterId}/${name}`);
      const at = rec ? Date.parse(rec.updatedAt) : NaN;
      const fresh = rec !== undefined && i.now - at <= i.staleMs;
      const health = rec && fresh ? rec.health : 'Unknown';
      if (fresh && rec.active === true && health !== 'Unhealthy') claims.push({ name, at });
      return { name, ready: health === 'Healthy', active: false, health };
    });
    // Two records may both say active for a moment after a failover (the old one's last refresh not yet stale):
    // the later one is the holder.
    const activeNode = claims.sort((a, b) => b.at - a.at)[0]?.name;
    const candidates = listed.map((c) => (c.name === activeNode ? { ...c, active: true } : c));
    gateways.set(g.metadata.name, { name: g.metadata.name, spec, candidates, activeNode, eips: new Set() });
  }
  const defaultGw = [...gateways.values()].filter((g) => g.spec.clusterDefault).sort((a, b) => (a.name < b.name ? -1 : 1))[0];
  const leaseOf = new Map<string, AddressLease[]>();
  for (const l of i.egressLeases.values()) leaseOf.set(l.owner, [...(leaseOf.get(l.owner) ?? []), l]);

  const out: EgressStatusVerdict[] = [];
  const policy = (kind: 'EgressPolicy' | 'EgressClusterPolicy', p: KubeObject): void => {
    if (p.metadata.deletionTimestamp) return;
    const spec = (p.spec ?? {}) as PolicySpec;
    const at = { kind, ...(kind === 'EgressPolicy' ? { namespace: p.metadata.namespace ?? 'default' } : {}), name: p.metadata.name };
    const gwName = spec.egressGatewayName ?? defaultGw?.name;
    const gw = gwName ? gateways.get(gwName) : undefined;
    if (!gw) {
      out.push({ ...at, fields: gwName ? { gateway: gwName } : {}, ready: { status: 'False', reason: 'GatewayNotFound', message: gwName ? `EgressGateway ${gwName} not found` : 'the policy names no EgressGateway and none is the cluster default (clusterDefault: true)' } });
      return;
    }
    const key = policyKey({ metadata: { name: p.metadata.name, ...(at.namespace ? { namespace: at.namespace } : {}) } });
    const r = policyEgressIPs(spec, gw, leaseOf.get(`egress:${i.clusterId}:${key}`) ?? [], i.nodes);
    for (const ip of Object.values(r.eip)) gw.eips.add(ip);
    const fields = { gateway: gw.name, ...(Object.keys(r.eip).length ? { eip: r.eip } : {}), ...(gw.activeNode ? { node: gw.activeNode } : {}) };
    const ready = r.problem ? { status: 'False' as const, ...r.problem }
      : !gw.activeNode ? { status: 'False' as const, reason: 'NoActiveGatewayNode', message: noActiveMessage(gw) }
        : { status: 'True' as const, reason: 'Active', message: `egress through ${gw.name} on node ${gw.activeNode} from ${Object.values(r.eip).join(', ') || 'the node\'s own IP'}` };
    out.push({ ...at, fields, ready });
  };
  for (const p of i.egressPolicies) policy('EgressPolicy', p);
  for (const p of i.egressClusterPolicies) policy('EgressClusterPolicy', p);

  for (const g of gateways.values()) {
    const eips = [...g.eips].sort();
    const nodes = g.candidates.map((c) => (c.active ? { ...c, egressIPs: eips } : c));
    out.push({
      kind: 'EgressGateway', name: g.name,
      fields: { candidates: g.candidates.map((c) => c.name), nodes, ...(g.activeNode ? { activeNode: g.activeNode } : {}) },
      ready: g.activeNode
        ? { status: 'True', reason: 'Active', message: `node ${g.activeNode} serves ${eips.length} egress IP${eips.length === 1 ? '' : 's'}` }
        : { status: 'False', reason: g.candidates.length ? 'NoActiveNode' : 'NoCandidates', message: noActiveMessage(g) },
    });
  }
  return out;
}

function noActiveMessage(g: GatewayState): string {
  if (g.candidates.length === 0) return `EgressGateway ${g.name} has no candidate node (spec.nodes, or Nodes matching spec.nodeSelector)`;
  return `no candidate of EgressGateway ${g.name} holds the gateway lease: ${g.candidates.map((c) => `${c.name} ${c.health}`).join(', ')}`;
}

/** The egress IPs of one policy as the gateway agents resolve them, or why they are not known. */
function policyEgressIPs(
  spec: PolicySpec,
  gw: GatewayState,
  leases: readonly AddressLease[],
  nodes: readonly NodeInfo[],
): { eip: { ipv4?: string; ipv6?: string }; problem?: { reason: string; message: string } } {
  const e = spec.egressIP ?? { useNodeIP: false };
  const eip: { ipv4?: string; ipv6?: string } = {};
  if (e.useNodeIP) {
    const node = nodes.find((n) => n.name === gw.activeNode);
    for (const a of node?.internalIPs ?? []) {
      const fam = a.includes(':') ? 'ipv6' : 'ipv4';
      eip[fam] ??= a;
    }
    return { eip };
  }
  const pending: string[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const ranges = (family === 'ipv4' ? gw.spec.ippools?.ipv4 : gw.spec.ippools?.ipv6) ?? [];
    const fixed = family === 'ipv4' ? e.ipv4 : e.ipv6;
    if (fixed) {
      if (!inRanges(fixed, ranges)) return { eip, problem: { reason: 'EgressIPNotInPool', message: `${fixed} is not in the ${family} pools of EgressGateway ${gw.name}` } };
      eip[family] = fixed;
      continue;
    }
    if (ranges.length === 0) continue;
    const pool = `egress-${gw.name}-${family === 'ipv4' ? 'v4' : 'v6'}`;
    const lease = leases.find((l) => l.pool === pool);
    if (lease) eip[family] = lease.ip;
    else pending.push(family);
  }
  if (Object.keys(eip).length > 0) return { eip };
  if (pending.length > 0) return { eip, problem: { reason: 'EgressIPPending', message: `no ${pending.join('/')} egress IP leased yet from the pools of EgressGateway ${gw.name} (leased by the gateway agents once a pod matches)` } };
  return { eip, problem: { reason: 'NoEgressIP', message: `EgressGateway ${gw.name} has no pool and the policy fixes no egress IP` } };
}

function inRanges(ip: string, specs: readonly string[]): boolean {
  try {
    const a = parseIp(ip);
    const ranges: IpRange[] = specs.map((s) => parseIpSpec(s));
    return rangesContain(ranges.filter((r) => r.family === a.family), a.value);
  } catch {
    return false;
  }
}
