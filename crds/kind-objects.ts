import type { CustomObject } from './custom-object.js';
import type { SubnetSpec, SubnetStatus, IPPoolSpec, IPPoolStatus, ReservedIPSpec } from './ipam-kinds.js';
import type { EgressGatewaySpec, EgressGatewayStatus, EgressPolicySpec, EgressPolicyStatus, EgressClusterPolicySpec } from './egress-kinds.js';
import type { ClusterSetSpec, ClusterSetStatus, GatewaySpec, GatewayStatus } from './multicluster-kinds.js';

/** Each kind as a whole Kubernetes object (metadata + the kind's spec and status types). */
export type Subnet = CustomObject<SubnetSpec, SubnetStatus>;
export type IPPool = CustomObject<IPPoolSpec, IPPoolStatus>;
export type ReservedIP = CustomObject<ReservedIPSpec>;
export type EgressGateway = CustomObject<EgressGatewaySpec, EgressGatewayStatus>;
export type EgressPolicy = CustomObject<EgressPolicySpec, EgressPolicyStatus>;
export type EgressClusterPolicy = CustomObject<EgressClusterPolicySpec, EgressPolicyStatus>;
export type ClusterSet = CustomObject<ClusterSetSpec, ClusterSetStatus>;
export type Gateway = CustomObject<GatewaySpec, GatewayStatus>;
