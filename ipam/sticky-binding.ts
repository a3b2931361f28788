import type { IpFamily } from './ip-address.js';
import { parkedOwnerKey, type Owner } from './owner.js';
import type { AllocationRecord } from './stores/allocation-store.js';

/**
 * StatefulSet fixed IPs. An address allocated to a StatefulSet pod carries the sticky key of its ordinal
 * (`namespace/name/ordinal/ifName`); releasing the pod parks the address under `sticky:<key>` instead of freeing it,
 * and the next pod of that ordinal takes it over with a compare-and-swap in the store. Pure: these functions decide,
 * the engine does the store calls.
 */

/** What a pod of a StatefulSet ordinal does with the address bound to that ordinal for one family. */
export type StickyTakeover =
  /** Nothing is bound for this family: allocate a fresh address. */
  | { kind: 'none' }
  /**
   * The bound address is in a pool the pod no longer asks for: the binding no longer applies. `free` is set when the
   * address is parked (nobody uses it), so it is freed; one still held by a previous pod is left to that pod.
   */
  | { kind: 'unbind'; free?: AllocationRecord }
  /** The owner already holds it (the store knew before the cache did). */
  | { kind: 'held'; record: AllocationRecord }
  /** Take it over from its holder (parked, or a previous pod of the ordinal whose DEL has not come): CAS `from` → `next`. */
  | { kind: 'take'; from: AllocationRecord; next: AllocationRecord };

/**
 * Decides the takeover for `owner` (owner key `key`) from the records the store has under its sticky key (`bound`),
 * given the pools the pod may use for `family` now.
 */
export function planStickyTakeover(
  bound: readonly AllocationRecord[],
  family: IpFamily,
  candidatePools: readonly { name: string }[],
  owner: Owner,
  key: string,
  now: number,
): StickyTakeover {
  const cur = bound.find((r) => r.family === family);
  if (!cur) return { kind: 'none' };
  if (!candidatePools.some((p) => p.name === cur.pool)) return cur.owner ? { kind: 'unbind' } : { kind: 'unbind', free: cur };
  if (cur.ownerKey === key) return { kind: 'held', record: cur };
  return { kind: 'take', from: cur, next: { ...cur, ownerKey: key, owner: { ...owner }, updatedAt: now } };
}

/**
 * Whether releasing `r` parks it for the next pod of its ordinal rather than freeing it: a StatefulSet address held
 * by a pod, unless the caller `forget`s it (undoing a failed allocation frees the fresh addresses it took, while one
 * it had taken over goes back to parked).
 */
export function parksOnRelease(r: AllocationRecord, forget: boolean): r is AllocationRecord & { sticky: string } {
  return r.sticky !== undefined && r.sticky !== '' && r.owner !== undefined && !forget;
}

/** The record of `r` parked for its ordinal: held under `sticky:<key>`, no owner, updated now (GC grace counts). */
export function parkedRecord(r: AllocationRecord & { sticky: string }, now: number): AllocationRecord {
  const parked: AllocationRecord = { ...r, ownerKey: parkedOwnerKey(r.sticky), updatedAt: now };
  delete parked.owner;
  return parked;
}
