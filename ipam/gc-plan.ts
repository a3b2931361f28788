import type { AllocationRecord } from './stores/allocation-store.js';
import { statefulSetOfSticky } from './owner.js';

/** What is alive right now, as the node agent or the cluster controller sees it. */
export interface LiveSet {
  /** Container ids of running pod sandboxes. */
  containerIds?: Iterable<string>;
  /** Pod uids of existing pods. */
  podUids?: Iterable<string>;
  /** `namespace/name` of existing StatefulSets. */
  statefulSets?: Iterable<string>;
}

export interface GcPlan {
  /** Held by an owner that is gone: release (a StatefulSet address is parked, not freed). */
  orphans: AllocationRecord[];
  /** Parked StatefulSet addresses whose StatefulSet is gone: free for good. */
  unpin: AllocationRecord[];
}

/**
 * Which allocations may be freed. An allocation younger than `graceMs` is never touched: its pod may simply not be
 * in the live view yet (the list was taken before the ADD finished). An owner is live if its pod uid or its
 * container id is live. Pure.
 */
export function planGarbageCollection(records: readonly AllocationRecord[], live: LiveSet, now: number, graceMs: number): GcPlan {
  const ctr = new Set(live.containerIds ?? []);
  const pods = new Set(live.podUids ?? []);
  const sts = new Set(live.statefulSets ?? []);
  const plan: GcPlan = { orphans: [], unpin: [] };
  for (const r of records) {
    if (now - r.updatedAt < graceMs) continue;
    if (!r.owner) {
      if (r.sticky && !sts.has(statefulSetOfSticky(r.sticky))) plan.unpin.push(r);
      continue;
    }
    const alive = ctr.has(r.owner.containerId) || (r.owner.podUid !== undefined && pods.has(r.owner.podUid));
    if (!alive) plan.orphans.push(r);
  }
  return plan;
}

export interface BlockUsage {
  pool: string;
  cidr: string;
  node: string;
  /** Addresses held in the block (including parked StatefulSet addresses). */
  used: number;
  /** When the block last became empty (ms). */
  emptySince: number;
}

/** Leased blocks that have been empty for at least `graceMs` and may go back to the pool. Pure. */
export function planBlockRelease(blocks: readonly BlockUsage[], now: number, graceMs: number): BlockUsage[] {
  return blocks.filter((b) => b.used === 0 && now - b.emptySince >= graceMs);
}
