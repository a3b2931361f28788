import { statefulSetOfSticky, type AllocationRecord, type LiveSet } from '../../ipam/index.js';

/** What pod GC needs to know of one Pod on this node. */
export interface PodSnapshot {
  uid: string;
  namespace: string;
  name: string;
  /** `Succeeded`/`Failed` pods never run again: their sandbox is gone, so their addresses are free to take. */
  phase?: string;
  ownerReferences?: { kind: string; name: string; apiVersion?: string; controller?: boolean }[];
  labels?: Record<string, string>;
}

export const isTerminal = (p: Pick<PodSnapshot, 'phase'>): boolean => p.phase === 'Succeeded' || p.phase === 'Failed';

/**
 * The StatefulSet and ordinal of a pod (from its controller reference and the `apps.kubernetes.io/pod-index` label,
 * or the `<set>-<ordinal>` name), so its addresses stay bound to the ordinal. Undefined for other pods.
 */
export function statefulSetOfPod(p: Pick<PodSnapshot, 'name' | 'ownerReferences' | 'labels'>): { name: string; ordinal: number } | undefined {
  const ref = p.ownerReferences?.find((r) => r.kind === 'StatefulSet' && r.controller !== false && (r.apiVersion ?? 'apps/v1').startsWith('apps/'));
  if (!ref) return undefined;
  const label = p.labels?.['apps.kubernetes.io/pod-index'];
  if (label !== undefined && /^\d+$/.test(label)) return { name: ref.name, ordinal: Number(label) };
  const prefix = `${ref.name}-`;
  const rest = p.name.startsWith(prefix) ? p.name.slice(prefix.length) : '';
  return /^\d+$/.test(rest) ? { name: ref.name, ordinal: Number(rest) } : undefined;
}

/**
 * Allocations whose pod looks gone in the cached Pods of this node: the pod (matched by uid, or by namespace/name
 * for owners without a uid) is not there or has terminated, the allocation is older than `graceMs`, and the pod has
 * been missing for at least `graceMs` as this agent saw it (`missingSince`, updated here: first miss recorded,
 * entries of pods seen again or of records gone dropped). The second grace covers a force-deleted pod whose
 * sandbox is still being torn down: its DEL usually arrives within it, and the address is not handed out while the
 * old sandbox may still use it. Owners without namespace/name are not pods Kubernetes knows: never candidates.
 * Candidates are confirmed with the API server before anything is freed (a cache can be behind).
 */
export function podGcCandidates(
  records: readonly AllocationRecord[],
  pods: readonly PodSnapshot[],
  missingSince: Map<string, number>,
  now: number,
  graceMs: number,
): AllocationRecord[] {
  const byUid = new Map<string, PodSnapshot>();
  const byName = new Map<string, PodSnapshot>();
  for (const p of pods) {
    byUid.set(p.uid, p);
    byName.set(`${p.namespace}/${p.name}`, p);
  }
  const out: AllocationRecord[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    const o = r.owner;
    if (!o?.namespace || !o.podName) continue;
    seen.add(r.ownerKey);
    const pod = o.podUid !== undefined ? byUid.get(o.podUid) : byName.get(`${o.namespace}/${o.podName}`);
    if (pod && !isTerminal(pod)) {
      missingSince.delete(r.ownerKey);
      continue;
    }
    const since = missingSince.get(r.ownerKey) ?? now;
    missingSince.set(r.ownerKey, since);
    if (now - since >= graceMs && now - r.updatedAt >= graceMs) out.push(r);
  }
  for (const k of [...missingSince.keys()]) if (!seen.has(k)) missingSince.delete(k);
  return out;
}

/** `namespace/name` of the StatefulSets whose parked addresses are old enough to be freed if the set is gone. */
export function parkedStatefulSets(records: readonly AllocationRecord[], now: number, graceMs: number): string[] {
  const out = new Set<string>();
  for (const r of records) if (!r.owner && r.sticky && now - r.updatedAt >= graceMs) out.add(statefulSetOfSticky(r.sticky));
  return [...out].sort();
}

/**
 * The live set handed to the engine's GC: every owner and StatefulSet is live except the confirmed orphans and the
 * StatefulSets confirmed gone, so the engine's planner frees exactly what was confirmed (and, as ever, nothing
 * younger than its grace).
 */
export function liveSetExcept(records: readonly AllocationRecord[], orphans: readonly AllocationRecord[], goneStatefulSets: readonly string[]): LiveSet {
  const dead = new Set(orphans.map((r) => r.ownerKey));
  const podUids = new Set<string>();
  const containerIds = new Set<string>();
  const statefulSets = new Set<string>();
  const gone = new Set(goneStatefulSets);
  for (const r of records) {
    if (r.sticky && !gone.has(statefulSetOfSticky(r.sticky))) statefulSets.add(statefulSetOfSticky(r.sticky));
    if (!r.owner || dead.has(r.ownerKey)) continue;
    containerIds.add(r.owner.containerId);
    if (r.owner.podUid !== undefined) podUids.add(r.owner.podUid);
  }
  // An orphan's container id may be shared with a live owner's record only if one sandbox had two pods: never.
  for (const r of orphans) {
    if (r.owner) containerIds.delete(r.owner.containerId);
    if (r.owner?.podUid !== undefined) podUids.delete(r.owner.podUid);
  }
  return { podUids, containerIds, statefulSets };
}
