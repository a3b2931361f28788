import { StraitError } from '../../api/index.js';
import type { EgressClusterPolicy, EgressGateway, EgressPolicy } from '../../crds/index.js';
import { selectorProblems } from './egress-selector.js';
import { formatIp, matchesSelector, parseCidr, parseIp, parseIpSpec, rangesContain, type IpFamily, type IpRange } from '../../ipam/index.js';

/**
 * Egress semantics, pure: EgressGateway / EgressPolicy / EgressClusterPolicy objects plus the cluster's pods,
 * namespaces and nodes → the rules the datapath applies. Nothing here does I/O; pool IPs already leased at the
 * broker come in as `leased`, and policies still needing one come out as `pending`.
 */
export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ips: readonly string[];
}
export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}
export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface EgressInputs {
  readonly gateways: readonly EgressGateway[];
  readonly policies?: readonly EgressPolicy[];
  readonly clusterPolicies?: readonly EgressClusterPolicy[];
  readonly pods?: readonly PodInfo[];
  readonly namespaces?: readonly NamespaceInfo[];
  readonly nodes?: readonly NodeInfo[];
  /** Pool IPs already leased for a policy (key `policyKey`), e.g. from broker address leases. */
  readonly leased?: ReadonlyMap<string, { ipv4?: string; ipv6?: string }>;
  /** Cluster-internal CIDRs (pod, service): never steered to a gateway, even when a policy says "all". */
  readonly clusterCidrs?: readonly string[];
}

/** What the datapath needs for one policy and one address family. */
export interface EgressRule {
  /** `namespace/name` for EgressPolicy, `name` for EgressClusterPolicy. */
  readonly policy: string;
  readonly gateway: string;
  readonly family: IpFamily;
  readonly priority: number;
  /** Source addresses or subnets (pod IPs as /32 or /128, or the policy's pod subnets). */
  readonly sources: readonly string[];
  /** Destinations; `0.0.0.0/0` / `::/0` when the policy names none. */
  readonly destinations: readonly string[];
  /** The SNAT address, or `node` for useNodeIP (the gateway's own address: masquerade). */
  readonly egressIp: string | 'node';
  /** fwmark the node sets for this rule; unique per rule, stable for a given input order. */
  readonly mark: number;
}

export interface ResolvedGateway {
  readonly name: string;
  /** Candidate nodes: the explicit list in its order, or nodes matching the selector sorted by name. */
  readonly candidates: readonly string[];
  /** Egress IPs the active gateway must serve. */
  readonly egressIps: readonly string[];
}

export interface PendingAllocation {
  readonly policy: string;
  readonly gateway: string;
  readonly family: IpFamily;
}

export interface ResolvedEgress {
  readonly rules: readonly EgressRule[];
  readonly gateways: readonly ResolvedGateway[];
  readonly pending: readonly PendingAllocation[];
  /** Policies that could not be resolved, with the catalogued reason; the rest still apply. */
  readonly errors: readonly { policy: string; error: StraitError }[];
  readonly clusterCidrs: readonly string[];
}

/** Base of the fwmarks Strait sets on nodes; rule i gets MARK_BASE + i. */
export const EGRESS_MARK_BASE = 0x5e00;

export function policyKey(p: { metadata: { name: string; namespace?: string } }): string {
  return p.metadata.namespace ? `${p.metadata.namespace}/${p.metadata.name}` : p.metadata.name;
}

function poolRanges(gw: EgressGateway, family: IpFamily): IpRange[] {
  const specs = (family === 'ipv4' ? gw.spec.ippools?.ipv4 : gw.spec.ippools?.ipv6) ?? [];
  return specs.map((s) => parseIpSpec(s));
}

function familyOf(cidrOrIp: string): IpFamily {
  return cidrOrIp.includes(':') ? 'ipv6' : 'ipv4';
}

function hostCidr(ip: string): string {
  return familyOf(ip) === 'ipv4' ? `${ip}/32` : `${ip}/128`;
}

interface NormalPolicy {
  key: string;
  namespace: string | undefined;
  namespaceSelector: EgressClusterPolicy['spec']['appliedTo']['namespaceSelector'];
  spec: EgressPolicy['spec'] | EgressClusterPolicy['spec'];
}

/**
 * Resolves all objects into datapath rules. Policies sort by priority (higher first), then by key, and the node
 * matches them in that order, first match wins. An invalid policy is reported in `errors` and skipped; it never
 * stops the others.
 */
export function resolveEgress(input: EgressInputs): ResolvedEgress {
  const gwByName = new Map(input.gateways.map((g) => [g.metadata.name, g]));
  const defaultGw = [...input.gateways].filter((g) => g.spec.clusterDefault).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))[0];
  const nsLabels = new Map((input.namespaces ?? []).map((n) => [n.name, n.labels]));
  const errors: { policy: string; error: StraitError }[] = [];
  const pending: PendingAllocation[] = [];
  const eipsByGw = new Map<string, Set<string>>();
  const clusterCidrs = [...(input.clusterCidrs ?? [])];
  for (const c of clusterCidrs) parseCidr(c);

  const all: NormalPolicy[] = [
    ...(input.policies ?? []).map((p) => ({ key: policyKey(p), namespace: p.metadata.namespace ?? 'default', namespaceSelector: undefined, spec: p.spec })),
    ...(input.clusterPolicies ?? []).map((p) => ({ key: policyKey(p), namespace: undefined, namespaceSelector: p.spec.appliedTo.namespaceSelector, spec: p.spec })),
  ].sort((a, b) => (b.spec.priority ?? 100) - (a.spec.priority ?? 100) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const rules: EgressRule[] = [];
  for (const p of all) {
    try {
      const gwName = p.spec.egressGatewayName ?? defaultGw?.metadata.name;
      const gw = gwName ? gwByName.get(gwName) : undefined;
      if (!gw || !gwName) {
        throw new StraitError('EGRESS_GATEWAY_NOT_FOUND', gwName ? `egress gateway ${gwName} not found` : 'policy names no egress gateway and none is the cluster default', { policy: p.key, gateway: gwName ?? null });
      }
      const eip = p.spec.egressIP ?? { useNodeIP: false, allocatorPolicy: 'default' as const };
      if (eip.useNodeIP && (eip.ipv4 || eip.ipv6)) {
        throw new StraitError('EGRESS_INVALID_POLICY', 'useNodeIP excludes a fixed egress IP', { policy: p.key });
      }
      const at = p.spec.appliedTo;
      const podSubnet = at.podSubnet;
      if (podSubnet && at.podSelector) throw new StraitError('EGRESS_INVALID_POLICY', 'appliedTo takes podSelector or podSubnet, not both', { policy: p.key });
      for (const c of [...(podSubnet ?? []), ...(p.spec.destSubnet ?? [])]) {
        try {
          parseCidr(c);
        } catch (e) {
          throw new StraitError('EGRESS_INVALID_POLICY', `bad CIDR ${c}`, { policy: p.key, cidr: c }, { cause: e });
        }
      }
      const selectorErrors = [
        ...selectorProblems(at.podSelector, 'appliedTo.podSelector'),
        ...selectorProblems(p.namespaceSelector, 'appliedTo.namespaceSelector'),
      ];
      if (selectorErrors.length) {
        throw new StraitError('EGRESS_INVALID_POLICY', `malformed selector: ${selectorErrors.join('; ')}`, { policy: p.key, problems: selectorErrors });
      }
      let sources: string[];
      if (podSubnet) sources = [...podSubnet];
      else {
        const pods = (input.pods ?? []).filter((pod) => {
          if (p.namespace !== undefined && pod.namespace !== p.namespace) return false;
          if (p.namespaceSelector && !matchesSelector(p.namespaceSelector, nsLabels.get(pod.namespace) ?? {})) return false;
          return matchesSelector(at.podSelector ?? {}, pod.labels);
        });
        sources = pods.flatMap((pod) => pod.ips.map(hostCidr)).sort();
      }
      // The families a policy serves do not depend on which pods match right now: a selector policy keeps its
      // egress IP while no pod matches, so a pod that starts matching only changes the SNAT and steering rules
      // (no lease, no address move, no ARP announcement on the way). A subnet policy serves its subnets' families;
      // a selector policy those of its fixed IPs, else every family its gateway has a pool for (useNodeIP: both).
      const families = podSubnet
        ? (['ipv4', 'ipv6'] as const).filter((f) => podSubnet.some((c) => familyOf(c) === f))
        : eip.ipv4 || eip.ipv6
          ? (['ipv4', 'ipv6'] as const).filter((f) => (f === 'ipv4' ? eip.ipv4 : eip.ipv6))
          : eip.useNodeIP
            ? (['ipv4', 'ipv6'] as const)
            : (['ipv4', 'ipv6'] as const).filter((f) => poolRanges(gw, f).length > 0);
      if (!podSubnet && families.length === 0) {
        throw new StraitError('EGRESS_POOL_EXHAUSTED', `egress gateway ${gwName} has no pool`, { policy: p.key, gateway: gwName });
      }
      for (const family of families) {
        const famSources = sources.filter((s) => familyOf(s) === family);
        const dests = (p.spec.destSubnet ?? []).filter((d) => familyOf(d) === family);
        if ((p.spec.destSubnet ?? []).length > 0 && dests.length === 0) continue;
        let egressIp: string | 'node' | undefined;
        if (eip.useNodeIP) egressIp = 'node';
        else {
          const fixed = family === 'ipv4' ? eip.ipv4 : eip.ipv6;
          const pools = poolRanges(gw, family);
          if (fixed) {
            const ip = parseIp(fixed);
            if (!rangesContain(pools, ip.value)) {
              throw new StraitError('EGRESS_IP_NOT_IN_POOL', `${fixed} is not in the pools of egress gateway ${gwName}`, { policy: p.key, ip: fixed, gateway: gwName });
            }
            egressIp = formatIp(family, ip.value);
          } else {
            const leased = input.leased?.get(p.key)?.[family];
            if (leased) egressIp = leased;
            else if (pools.length === 0) {
              throw new StraitError('EGRESS_POOL_EXHAUSTED', `egress gateway ${gwName} has no ${family} pool`, { policy: p.key, gateway: gwName });
            } else {
              pending.push({ policy: p.key, gateway: gwName, family });
              continue;
            }
          }
        }
        if (egressIp !== 'node') {
          const set = eipsByGw.get(gwName) ?? new Set<string>();
          set.add(egressIp);
          eipsByGw.set(gwName, set);
        }
        // No pod matches in this family right now: the IP stays served, there is just nothing to steer or SNAT.
        if (famSources.length === 0) continue;
        rules.push({
          policy: p.key, gateway: gwName, family, priority: p.spec.priority ?? 100, sources: famSources,
          destinations: dests.length > 0 ? dests : [family === 'ipv4' ? '0.0.0.0/0' : '::/0'],
          egressIp, mark: EGRESS_MARK_BASE + rules.length,
        });
      }
    } catch (e) {
      if (e instanceof StraitError) errors.push({ policy: p.key, error: e });
      else throw e;
    }
  }

  const gateways: ResolvedGateway[] = input.gateways.map((g) => ({
    name: g.metadata.name,
    candidates: g.spec.nodes && g.spec.nodes.length > 0
      ? [...g.spec.nodes]
      : (input.nodes ?? []).filter((n) => g.spec.nodeSelector && matchesSelector(g.spec.nodeSelector, n.labels)).map((n) => n.name).sort(),
    egressIps: [...(eipsByGw.get(g.metadata.name) ?? [])].sort(),
  }));
  return { rules, gateways, pending, errors, clusterCidrs };
}

/**
 * Picks a pool IP for a policy without a broker (standalone / lab use): the lowest address of the gateway's pools
 * not already used by another policy (`taken`). With a broker, leases come from `POST /v1/ippools/{name}/addresses`
 * instead and arrive through `EgressInputs.leased`.
 */
export function pickPoolIp(gw: EgressGateway, family: IpFamily, taken: ReadonlySet<string>): string {
  for (const r of poolRanges(gw, family)) {
    for (let v = r.first; v <= r.last && v - r.first < 65_536n; v++) {
      const ip = formatIp(family, v);
      if (!taken.has(ip)) return ip;
    }
  }
  throw new StraitError('EGRESS_POOL_EXHAUSTED', `no free ${family} egress IP in the pools of ${gw.metadata.name}`, { gateway: gw.metadata.name });
}
