// Public face of ipam/. Other folders import only this file, and it exports what they use, nothing more (ipam's
// own files and tests import each other directly).
//
// The engine is pure apart from its AllocationStore and BlockLeaser: `new IpamEngine({store, config, blockLeaser?})`,
// then `allocate(owner, request)`, `release(owner)`, `check(owner)`. Stores (ipam/stores/): MemoryAllocationStore,
// FileAllocationStore (durable, standalone node); every store passes testing/allocation-store-conformance.ts.
// Leasers: LocalBlockLeaser (the default, over the store) and the broker's in member-agent/.

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

// Model and pool matching
export type { IpamConfig, IPPool as IpamPool, ReservedIP as IpamReservedIP } from './model.js';
export { parseIPPool } from './pool-validation.js';
export { blockSizeRange, blockSizeProblem, defaultBlockSize, MAX_BLOCK_INDEX_BITS, type BlockSizeRange } from './block-size.js';
export { matchesSelector } from './label-selector.js';
export {
  namespaceDefaultsFromAnnotations,
  POD_IPPOOL_ANNOTATION,
  POD_IPPOOLS_ANNOTATION,
  NS_DEFAULT_IPV4_ANNOTATION,
  NS_DEFAULT_IPV6_ANNOTATION,
} from './pool-annotations.js';

// The engine, its seams, and its stores
export type { Owner } from './owner.js';
export { statefulSetOfSticky } from './owner.js';
export type { PoolCandidates, AllocationResult, AllocationRequest } from './allocation-request.js';
export { IpamEngine } from './ipam-engine.js';
export type { BlockLeaser, BlockLeaseRequest } from './block-leaser.js';
export type { StickyAddressLeaser, StickyLeaseRequest } from './sticky-address-leaser.js';
export type { LiveSet, GcPlan, BlockUsage } from './gc-plan.js';
export type { AllocationStore, AllocationRecord, BlockLease } from './stores/allocation-store.js';
export { MemoryAllocationStore } from './stores/memory-store.js';
export { FileAllocationStore } from './stores/file-store.js';
