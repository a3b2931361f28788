import type { KindDefinition } from './kind-definition.js';
import { IPPoolKind, ReservedIPKind, SubnetKind } from './ipam-kinds.js';
import { EgressClusterPolicyKind, EgressGatewayKind, EgressPolicyKind } from './egress-kinds.js';
import { ClusterSetKind, GatewayKind } from './multicluster-kinds.js';

/** Every Strait kind, in install order. */
export const ALL_KINDS: readonly KindDefinition[] = [
  SubnetKind, IPPoolKind, ReservedIPKind,
  EgressGatewayKind, EgressPolicyKind, EgressClusterPolicyKind,
  ClusterSetKind, GatewayKind,
];

export function kindByName(kind: string): KindDefinition | undefined {
  return ALL_KINDS.find((k) => k.kind === kind);
}
