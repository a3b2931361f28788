// Public face of crds/. Other folders import only this file, and it holds what they use.
// Each kind has ONE source of truth: its zod schemas. The TS types (z.infer) and the CRD manifests
// (crds/manifests/*.yaml, `npm run gen:crds`) are both derived from them.
export { Condition } from './common-schemas.js';
export { readIp, readCidr, ipv4InIpv6Reason } from './ip-text.js';
export { allocatableCidrRefusal, unicastIpRefusal } from './special-ranges.js';
export { type AddressCode, type AddressProblem, ipProblem, cidrProblem, ipRangeProblem, refineWith } from './address-checks.js';
export { type KindDefinition } from './kind-definition.js';
export { SubnetKind, IPPoolKind, IPPoolRules, ReservedIPKind, ReservedIPList, type IPPoolNodeStatus, type IPPoolStatus, type ReservedIPStatus } from './ipam-kinds.js';
export {
  EgressGatewayKind, EgressGatewaySpec,
  EgressPolicyKind, EgressPolicySpec,
  EgressClusterPolicyKind, EgressClusterPolicySpec,
} from './egress-kinds.js';
export { MULTICLUSTER_GROUP, MULTICLUSTER_VERSION, ClusterSetKind, ClusterSetSpec, GatewayKind } from './multicluster-kinds.js';
export { ALL_KINDS } from './kind-registry.js';
export { crdManifestOf, crdAsClientModel, CRD_SCHEMA_HASH_LABEL } from './crd-manifest.js';
export { setCondition, sameConditions } from './conditions.js';
export type { EgressGateway, EgressPolicy, EgressClusterPolicy } from './kind-objects.js';
export type { ObjectMeta, CustomObject } from './custom-object.js';
