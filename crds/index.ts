// Public face of crds/. Other folders import only this file.
// Each kind has ONE source of truth: its zod schemas. The TS types (z.infer) and the CRD manifests
// (crds/manifests/*.yaml, `npm run gen:crds`) are both derived from them.
export {
  Cidr, AllocatableCidr, Ip, Ipv4, Ipv6, IpRange, Ipv4Range, Ipv6Range, LabelSelector, Condition, Conditions, StatusBase,
  ClusterId, ObjectName, CIDR_PATTERN, IP_PATTERN, RANGE_PATTERN,
} from './common-schemas.js';
export { type IpTextFamily, type IpTextResult, type CidrTextResult, readIp, readCidr, hostBitsOf, ipv4InIpv6Reason } from './ip-text.js';
export { SPECIAL_RANGES, allocatableCidrRefusal, unicastIpRefusal } from './special-ranges.js';
export { type AddressCode, type AddressProblem, type IpCheck, type CidrCheck, ipProblem, cidrProblem, ipRangeProblem, refineWith } from './address-checks.js';
export { type KindDefinition, type PrinterColumn, defineKind } from './kind-definition.js';
export {
  IPAM_GROUP, IPAM_VERSION,
  SubnetKind, SubnetSpec, SubnetStatus, Route,
  IPPoolKind, IPPoolSpec, IPPoolStatus,
  ReservedIPKind, ReservedIPSpec,
} from './ipam-kinds.js';
export {
  EGRESS_GROUP, EGRESS_VERSION,
  EgressGatewayKind, EgressGatewaySpec, EgressGatewayStatus,
  EgressPolicyKind, EgressPolicySpec, EgressPolicyStatus,
  EgressClusterPolicyKind, EgressClusterPolicySpec,
  EgressIP,
} from './egress-kinds.js';
export {
  MULTICLUSTER_GROUP, MULTICLUSTER_VERSION,
  ClusterSetKind, ClusterSetSpec, ClusterSetStatus,
  GatewayKind, GatewaySpec, GatewayStatus,
} from './multicluster-kinds.js';
export { ALL_KINDS, kindByName } from './kind-registry.js';
export { crdManifestOf, crdAsClientModel, CRD_SCHEMA_HASH_LABEL, type CustomResourceDefinition } from './crd-manifest.js';
export { openAPIV3SchemaOf, toStructural, type JSONSchemaProps } from './structural-schema.js';
export { type CustomObject, type ObjectMeta } from './custom-object.js';
export { setCondition, conditionStatus, sameConditions } from './conditions.js';

import type { CustomObject } from './custom-object.js';
import type { SubnetSpec, SubnetStatus, IPPoolSpec, IPPoolStatus, ReservedIPSpec } from './ipam-kinds.js';
import type { EgressGatewaySpec, EgressGatewayStatus, EgressPolicySpec, EgressPolicyStatus, EgressClusterPolicySpec } from './egress-kinds.js';
import type { ClusterSetSpec, ClusterSetStatus, GatewaySpec, GatewayStatus } from './multicluster-kinds.js';

export type Subnet = CustomObject<SubnetSpec, SubnetStatus>;
export type IPPool = CustomObject<IPPoolSpec, IPPoolStatus>;
export type ReservedIP = CustomObject<ReservedIPSpec>;
export type EgressGateway = CustomObject<EgressGatewaySpec, EgressGatewayStatus>;
export type EgressPolicy = CustomObject<EgressPolicySpec, EgressPolicyStatus>;
export type EgressClusterPolicy = CustomObject<EgressClusterPolicySpec, EgressPolicyStatus>;
export type ClusterSet = CustomObject<ClusterSetSpec, ClusterSetStatus>;
export type Gateway = CustomObject<GatewaySpec, GatewayStatus>;
