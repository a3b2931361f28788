import { describe, it, expect } from '@jest/globals';
import type { AllocationRecord } from '../../ipam/index.js';
import { liveSetExcept, parkedStatefulSets, podGcCandidates, statefulSetOfPod } from './pod-gc-plan.js';

const rec = (address: string, owner: AllocationRecord['owner'], extra: Partial<AllocationRecord> = {}): AllocationRecord => ({
  address, family: 'ipv4', pool: 'p', ownerKey: owner ? `pod:${owner.podUid ?? owner.containerId}/eth0` : `sticky:${extra.sticky}`, ...(owner ? { owner } : {}), updatedAt: 0, ...extra,
});
const pod = (name: string, uid: string, phase?: string): { uid: string; namespace: string; name: string; phase?: string } => ({ uid, namespace: 'default', name, ...(phase ? { phase } : {}) });

describe('pod GC planning (pure)', () => {
  it('a pod must be missing for the grace period as the agent saw it, not just have an old allocation', () => {
    const records = [rec('10.0.0.1', { containerId: 'c1', ifName: 'eth0', podUid: 'u1', namespace: 'default', podName: 'a' })];
    const missing = new Map<string, number>();
    expect(podGcCandidates(records, [], missing, 10_000, 1_000)).toEqual([]); // first miss at 10 s
    expect(podGcCandidates(records, [], missing, 10_999, 1_000)).toEqual([]);
    expect(podGcCandidates(records, [pod('a', 'u1')], missing, 11_500, 1_000)).toEqual([]); // seen again: window resets
    expect(missing.size).toBe(0);
    podGcCandidates(records, [], missing, 12_000, 1_000);
    expect(podGcCandidates(records, [], missing, 13_000, 1_000).map((r) => r.address)).toEqual(['10.0.0.1']);
  });

  it('matches by uid (a recreated pod of the same name is another owner), by namespace/name without uid; terminated pods are gone; non-pod owners never', () => {
    const records = [
      rec('10.0.0.1', { containerId: 'c1', ifName: 'eth0', podUid: 'old', namespace: 'default', podName: 'a' }),
      rec('10.0.0.2', { containerId: 'c2', ifName: 'eth0', namespace: 'default', podName: 'b' }),
      rec('10.0.0.3', { containerId: 'c3', ifName: 'eth0', podUid: 'u3', namespace: 'default', podName: 'c' }),
      rec('10.0.0.4', { containerId: 'c4', ifName: 'eth0' }),
    ];
    const missing = new Map<string, number>();
    const pods = [pod('a', 'new'), pod('b', 'ub'), pod('c', 'u3', 'Succeeded')];
    podGcCandidates(records, pods, missing, 0, 0);
    expect(podGcCandidates(records, pods, missing, 1, 0).map((r) => r.address)).toEqual(['10.0.0.1', '10.0.0.3']);
  });

  it('the live set frees exactly the confirmed orphans and StatefulSets', () => {
    const a = rec('10.0.0.1', { containerId: 'c1', ifName: 'eth0', podUid: 'u1' });
    const b = rec('10.0.0.2', { containerId: 'c2', ifName: 'eth0', podUid: 'u2' });
    const parked = rec('10.0.0.3', undefined, { sticky: 'default/web/0/eth0' });
    const live = liveSetExcept([a, b, parked], [a], ['default/web']);
    expect([...(live.podUids ?? [])]).toEqual(['u2']);
    expect([...(live.containerIds ?? [])]).toEqual(['c2']);
    expect([...(live.statefulSets ?? [])]).toEqual([]);
    expect(parkedStatefulSets([a, parked], 5, 5)).toEqual(['default/web']);
    expect(parkedStatefulSets([a, parked], 4, 5)).toEqual([]);
  });

  it('StatefulSet ordinal from the pod-index label or the name', () => {
    const ref = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', controller: true }];
    expect(statefulSetOfPod({ name: 'web-3', ownerReferences: ref })).toEqual({ name: 'web', ordinal: 3 });
    expect(statefulSetOfPod({ name: 'x', ownerReferences: ref, labels: { 'apps.kubernetes.io/pod-index': '7' } })).toEqual({ name: 'web', ordinal: 7 });
    expect(statefulSetOfPod({ name: 'web-3', ownerReferences: [{ kind: 'ReplicaSet', name: 'web' }] })).toBeUndefined();
    expect(statefulSetOfPod({ name: 'other-3', ownerReferences: ref })).toBeUndefined();
  });
});
