import {
  EgressClusterPolicyPut, EgressGatewayPut, EgressPolicyPut, Labels,
  type BrokerEgressClusterPolicy, type BrokerEgressGateway, type BrokerEgressPolicy,
} from '../../api/index.js';
import type { KubeObject } from './kube-client.js';

/**
 * The pure half of pushing this cluster's own EgressGateways, EgressPolicies and EgressClusterPolicies to the
 * broker. The cluster is the source of truth for them: each CRD is normalised with the broker's own body schema
 * (so defaults the broker fills in never look like a difference), pushed when its spec or labels differ from the
 * broker's copy, and a broker object of this cluster with no CRD left (or a CRD being deleted) is deleted there.
 * A CRD the broker schema refuses is not pushed and reports Synced=False/Invalid.
 */
export type EgressKind = 'EgressGateway' | 'EgressPolicy' | 'EgressClusterPolicy';

/** This cluster's egress objects at the broker, keyed `name` (`namespace/name` for EgressPolicy). */
export interface EgressBrokerView {
  egressGateways: ReadonlyMap<string, BrokerEgressGateway>;
  egressPolicies: ReadonlyMap<string, BrokerEgressPolicy>;
  egressClusterPolicies: ReadonlyMap<string, BrokerEgressClusterPolicy>;
}

export interface EgressClusterView {
  egressGateways: readonly KubeObject[];
  egressPolicies: readonly KubeObject[];
  egressClusterPolicies: readonly KubeObject[];
}

export interface EgressBody {
  spec: Record<string, unknown>;
  labels: Record<string, string>;
  resourceVersion?: string;
}

export type EgressAction =
  | { type: 'egress-put'; kind: EgressKind; namespace?: string; name: string; body: EgressBody }
  | { type: 'egress-delete'; kind: EgressKind; namespace?: string; name: string };

export interface EgressVerdict {
  kind: EgressKind;
  namespace?: string;
  name: string;
  synced: boolean;
  reason: string;
  message: string;
}

export interface EgressPlan {
  actions: EgressAction[];
  verdicts: EgressVerdict[];
}

const SCHEMAS = { EgressGateway: EgressGatewayPut, EgressPolicy: EgressPolicyPut, EgressClusterPolicy: EgressClusterPolicyPut } as const;
const LABEL_KEY = /^[A-Za-z0-9][-A-Za-z0-9_./]{0,62}$/;

/** JSON with sorted keys: the broker may store keys in another order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The labels the broker accepts (Kubernetes allows longer keys; those stay in the cluster only). */
export function pushableLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out = Object.fromEntries(Object.entries(labels ?? {}).filter(([k, v]) => LABEL_KEY.test(k) && v.length <= 253).slice(0, 64));
  return Labels.safeParse(out).success ? out : {};
}

export const egressKey = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name);

export function planEgressPush(broker: EgressBrokerView, cluster: EgressClusterView): EgressPlan {
  const plan: EgressPlan = { actions: [], verdicts: [] };
  planKind('EgressGateway', broker.egressGateways, cluster.egressGateways, false, plan);
  planKind('EgressPolicy', broker.egressPolicies, cluster.egressPolicies, true, plan);
  planKind('EgressClusterPolicy', broker.egressClusterPolicies, cluster.egressClusterPolicies, false, plan);
  return plan;
}

function planKind(
  kind: EgressKind,
  atBroker: ReadonlyMap<string, { spec: unknown; labels: Record<string, string>; resourceVersion: string }>,
  crds: readonly KubeObject[],
  namespaced: boolean,
  plan: EgressPlan,
): void {
  const present = new Set<string>();
  for (const c of crds) {
    if (c.metadata.deletionTimestamp) continue;
    const namespace = namespaced ? (c.metadata.namespace ?? 'default') : undefined;
    const name = c.metadata.name;
    const key = egressKey(namespace, name);
    present.add(key);
    const at = { kind, ...(namespace ? { namespace } : {}), name };
    const parsed = SCHEMAS[kind].safeParse({ spec: c.spec ?? {}, labels: pushableLabels(c.metadata.labels) });
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      plan.verdicts.push({ ...at, synced: false, reason: 'Invalid', message: `not pushed to the broker: ${why}` });
      continue;
    }
    const want = { spec: parsed.data.spec as Record<string, unknown>, labels: parsed.data.labels ?? {} };
    const b = atBroker.get(key);
    if (b && canonical(b.spec) === canonical(want.spec) && canonical(b.labels) === canonical(want.labels)) {
      plan.verdicts.push({ ...at, synced: true, reason: 'InSync', message: `at broker resourceVersion ${b.resourceVersion}` });
      continue;
    }
    plan.actions.push({ type: 'egress-put', ...at, body: { ...want, ...(b ? { resourceVersion: b.resourceVersion } : {}) } });
    plan.verdicts.push({ ...at, synced: true, reason: 'Pushed', message: b ? 'change pushed to the broker' : 'created at the broker' });
  }
  for (const key of atBroker.keys()) {
    if (present.has(key)) continue;
    const slash = key.indexOf('/');
    plan.actions.push(namespaced && slash > 0
      ? { type: 'egress-delete', kind, namespace: key.slice(0, slash), name: key.slice(slash + 1) }
      : { type: 'egress-delete', kind, name: key });
  }
}
