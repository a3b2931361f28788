import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { StraitError } from '../../api/index.js';
import type { EgressClusterPolicy, EgressGateway, EgressPolicy } from '../../crds/index.js';
import { EgressClusterPolicySpec, EgressGatewaySpec, EgressPolicySpec } from '../../crds/index.js';
import { specSelectorProblems } from './egress-selector.js';
import { pickPoolIp, policyKey, resolveEgress, type EgressInputs, type ResolvedEgress } from './egress-resolve.js';

/** The Egress objects in a YAML/JSON file (multi-document), validated with the CRD schemas. */
export interface EgressObjects {
  readonly gateways: EgressGateway[];
  readonly policies: EgressPolicy[];
  readonly clusterPolicies: EgressClusterPolicy[];
}

export function parseEgressObjects(text: string, source = 'egress config'): EgressObjects {
  const out: EgressObjects = { gateways: [], policies: [], clusterPolicies: [] };
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJSON() as { kind?: string; metadata?: { name?: string; namespace?: string }; spec?: unknown } | null;
    if (!o) continue;
    const meta = { name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}) };
    const bad = (e: unknown): StraitError =>
      new StraitError('EGRESS_INVALID_POLICY', `${source}: ${o.kind ?? '?'} ${meta.name}: ${e instanceof Error ? e.message : String(e)}`, { kind: o.kind, name: meta.name });
    try {
      if (!meta.name) throw new Error('metadata.name is required');
      if (o.kind === 'EgressGateway') out.gateways.push({ apiVersion: 'egress.strait.io/v1alpha1', kind: o.kind, metadata: meta, spec: EgressGatewaySpec.parse(o.spec) });
      else if (o.kind === 'EgressPolicy') out.policies.push({ apiVersion: 'egress.strait.io/v1alpha1', kind: o.kind, metadata: { namespace: 'default', ...meta }, spec: EgressPolicySpec.parse(o.spec) });
      else if (o.kind === 'EgressClusterPolicy') out.clusterPolicies.push({ apiVersion: 'egress.strait.io/v1alpha1', kind: o.kind, metadata: meta, spec: EgressClusterPolicySpec.parse(o.spec) });
      // What Kubernetes would refuse in a selector refuses the whole file, like any other invalid field: an agent
      // must not start with a policy that silently matches nothing.
      const problems = specSelectorProblems(o.spec);
      if (problems.length) throw new Error(`malformed selector: ${problems.join('; ')}`);
    } catch (e) {
      throw bad(e);
    }
  }
  return out;
}

/**
 * Resolves a file's objects into datapath rules. Pool IPs: `lease(policy, gateway, family)` when given (broker
 * address leases, idempotent per owner, so every agent gets the same IP), else the lowest free pool IP — a
 * deterministic choice every agent reading the same file makes identically.
 */
export async function resolveEgressFile(
  path: string,
  extra: Omit<EgressInputs, 'gateways' | 'policies' | 'clusterPolicies' | 'leased'> = {},
  lease?: (policy: string, gateway: string, family: 'ipv4' | 'ipv6') => Promise<string>,
): Promise<ResolvedEgress> {
  return resolveEgressObjects(parseEgressObjects(readFileSync(path, 'utf8'), path), extra, lease);
}

/** The same for objects from anywhere (a file, the broker): pool IPs from `lease` or the lowest free one. */
export async function resolveEgressObjects(
  objs: EgressObjects,
  extra: Omit<EgressInputs, 'gateways' | 'policies' | 'clusterPolicies' | 'leased'> = {},
  lease?: (policy: string, gateway: string, family: 'ipv4' | 'ipv6') => Promise<string>,
): Promise<ResolvedEgress> {
  const inputs: EgressInputs = { ...extra, gateways: objs.gateways, policies: objs.policies, clusterPolicies: objs.clusterPolicies };
  let resolved = resolveEgress(inputs);
  if (resolved.pending.length === 0) return resolved;
  const leased = new Map<string, { ipv4?: string; ipv6?: string }>();
  const taken = new Set(resolved.gateways.flatMap((g) => g.egressIps));
  for (const p of resolved.pending) {
    const gw = objs.gateways.find((g) => g.metadata.name === p.gateway);
    if (!gw) continue;
    const ip = lease ? await lease(p.policy, p.gateway, p.family) : pickPoolIp(gw, p.family, taken);
    taken.add(ip);
    leased.set(p.policy, { ...leased.get(p.policy), [p.family]: ip });
  }
  resolved = resolveEgress({ ...inputs, leased });
  return resolved;
}

export { policyKey };
