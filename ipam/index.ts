// Public face of ipam/. Other folders import only this file.
//
// The engine is pure apart from its AllocationStore: `new IpamEngine({store, config})`, then
// `allocate(owner, request)`, `release(owner)`, `check(owner)`. Stores: MemoryAllocationStore, FileAllocationStore
// (durable, standalone node); the broker adds a Redis one that must pass testing/allocation-store-conformance.ts.

// Addresses, CIDRs, ranges
export { type IpFamily, type IpAddress, parseIp, formatIp, canonicalIp, isIp, familyBits } from './ip-address.js';
export { type Cidr, parseCidr, formatCidr, cidrOf, cidrSize, cidrContains, cidrsOverlap, specialRangeRefusal } from './cidr.js';
export {
  type IpRange,
  parseIpSpec,
  formatRange,
  rangeSize,
  rangesOverlap,
  normalizeRanges,
  subtractRanges,
  clipRanges,
  countRanges,
  rangesContain,
} from './ip-range.js';

// Model and validation
export type { Route, LabelSelector, LabelSelectorRequirement, Subnet, IPPool, ReservedIP, IpamConfig } from './model.js';
export {
  type CompiledPool,
  parseIPPool,
  parseSubnet,
  parseReservedIP,
  compileIpamConfig,
  compilePool,
  IPPoolSchema,
  SubnetSchema,
  ReservedIPSchema,
  DEFAULT_BLOCK_PREFIX,
  MAX_BLOCK_HOST_BITS,
} from './pool-validation.js';
export { matchesSelector, describeSelector } from './label-selector.js';

// Owners, requests, selection
export { type Owner, ownerKey, stickyKey, parkedOwnerKey, statefulSetOfSticky, validateOwner } from './owner.js';
export type { PoolCandidates, AllocationRequest, PoolSource, AllocatedIp, AllocationResult, PoolRejection } from './allocation-request.js';
export {
  POD_IPPOOL_ANNOTATION,
  POD_IPPOOLS_ANNOTATION,
  NS_DEFAULT_IPV4_ANNOTATION,
  NS_DEFAULT_IPV6_ANNOTATION,
  poolsFromPodAnnotations,
  namespaceDefaultsFromAnnotations,
} from './pool-annotations.js';
export { type PoolSelection, type FamilySelection, selectPools, noPoolFits } from './pool-selection.js';

// Engine, planning, stores
export { IpamEngine, type IpamEngineOptions, type PoolUsage } from './ipam-engine.js';
export { type LiveSet, type GcPlan, type BlockUsage, planGarbageCollection, planBlockRelease } from './gc-plan.js';
export type { AllocationStore, AllocationRecord, BlockLease } from './allocation-store.js';
export { MemoryAllocationStore } from './memory-store.js';
export { FileAllocationStore } from './file-store.js';
export { KeyedMutex } from './keyed-mutex.js';
export { benchmarkAllocator, type AllocatorBenchOptions, type AllocatorBenchResult } from './allocator-bench.js';
