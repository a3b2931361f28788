import type { BrokerEgressClusterPolicy, BrokerEgressGateway, BrokerEgressPolicy } from '../../api/index.js';
import type { EgressObjects } from './egress-file.js';

/** A cluster's egress objects as the broker holds them (its lists, or the state a watch keeps). */
export interface BrokerEgressState {
  readonly gateways: readonly BrokerEgressGateway[];
  readonly policies: readonly BrokerEgressPolicy[];
  readonly clusterPolicies: readonly BrokerEgressClusterPolicy[];
}

const API_VERSION = 'egress.strait.io/v1alpha1';
const byName = (a: { name: string; namespace?: string }, b: { name: string; namespace?: string }): number =>
  (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name);

/**
 * Broker egress records → the objects the file path parses (same shape, same resolver), in a stable order so
 * every candidate resolving the same broker state gets the same rules and marks. The broker already checked each
 * spec with the CRD schema (defaults filled in), so nothing is re-validated here.
 */
export function egressObjectsFromBroker(s: BrokerEgressState): EgressObjects {
  return {
    gateways: [...s.gateways].sort(byName).map((g) => ({ apiVersion: API_VERSION, kind: 'EgressGateway', metadata: { name: g.name, labels: { ...g.labels } }, spec: g.spec })),
    policies: [...s.policies].sort(byName).map((p) => ({
      apiVersion: API_VERSION, kind: 'EgressPolicy', metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels } }, spec: p.spec,
    })),
    clusterPolicies: [...s.clusterPolicies].sort(byName).map((p) => ({
      apiVersion: API_VERSION, kind: 'EgressClusterPolicy', metadata: { name: p.name, labels: { ...p.labels } }, spec: p.spec,
    })),
  };
}

/** Identity of a broker egress record inside one cluster (the key of the state a watch keeps). */
export function egressRecordKey(kind: string, o: { name?: unknown; namespace?: unknown }): string {
  return kind === 'EgressPolicy' ? `${kind}/${String(o.namespace)}/${String(o.name)}` : `${kind}/${String(o.name)}`;
}

/**
 * The broker lease owner of a policy's pool IP: `egress:<cluster>:<policyKey>`. The member agent reports live
 * owners in exactly this form for garbage collection, so it must not change.
 */
export function egressLeaseOwner(cluster: string, policy: string): string {
  return `egress:${cluster}:${policy}`;
}

/** The broker pool an EgressGateway's IPs are leased from: `egress-<gateway>-v4|v6`. */
export function egressPoolName(gateway: string, family: 'ipv4' | 'ipv6'): string {
  return `egress-${gateway}-${family === 'ipv4' ? 'v4' : 'v6'}`;
}
