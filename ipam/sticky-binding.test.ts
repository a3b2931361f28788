import { describe, expect, it } from '@jest/globals';
import type { Owner } from './owner.js';
import { parkedRecord, parksOnRelease, planStickyTakeover } from './sticky-binding.js';
import type { AllocationRecord } from './stores/allocation-store.js';

const owner: Owner = { containerId: 'new', ifName: 'eth0', namespace: 'db', podName: 'pg-0', statefulSet: { name: 'pg', ordinal: 0 } };
const key = 'ctr:new/eth0';
const sticky = 'db/pg/0/eth0';
const parked: AllocationRecord = { address: '10.0.0.5', family: 'ipv4', pool: 'p', ownerKey: `sticky:${sticky}`, sticky, updatedAt: 1 };
const heldByOld: AllocationRecord = { ...parked, ownerKey: 'ctr:old/eth0', owner: { ...owner, containerId: 'old' } };
const v6: AllocationRecord = { ...parked, address: 'fd00::5', family: 'ipv6', pool: 'p6' };
const pools = [{ name: 'p' }, { name: 'p6' }];

describe('planStickyTakeover', () => {
  it.each<[string, AllocationRecord[], { name: string }[], unknown]>([
    ['nothing bound', [], pools, { kind: 'none' }],
    ['only the other family bound', [v6], pools, { kind: 'none' }],
    ['parked in a candidate pool', [v6, parked], pools, { kind: 'take', from: parked, next: { ...parked, ownerKey: key, owner, updatedAt: 50 } }],
    ['held by the previous pod (its DEL not come yet)', [heldByOld], pools, { kind: 'take', from: heldByOld, next: { ...heldByOld, ownerKey: key, owner, updatedAt: 50 } }],
    ['already this owner\'s', [{ ...heldByOld, ownerKey: key }], pools, { kind: 'held', record: { ...heldByOld, ownerKey: key } }],
    ['parked in a pool no longer asked for: freed', [parked], [{ name: 'q' }], { kind: 'unbind', free: parked }],
    ['held in a pool no longer asked for: left to its pod', [heldByOld], [{ name: 'q' }], { kind: 'unbind' }],
  ])('%s', (_, bound, candidates, want) => {
    expect(planStickyTakeover(bound, 'ipv4', candidates, owner, key, 50)).toEqual(want);
  });

  it('copies the owner, so later changes to the caller\'s object do not leak into the record', () => {
    const o = { ...owner };
    const plan = planStickyTakeover([parked], 'ipv4', pools, o, key, 50);
    o.containerId = 'changed';
    expect(plan.kind === 'take' && plan.next.owner?.containerId).toBe('new');
  });
});

describe('parking on release', () => {
  it.each<[string, AllocationRecord, boolean, boolean]>([
    ['a StatefulSet address held by a pod', heldByOld, false, true],
    ['the same, undone after a failed allocation (forget)', heldByOld, true, false],
    ['an address already parked', parked, false, false],
    ['an address of a plain pod', { ...heldByOld, sticky: undefined } as AllocationRecord, false, false],
  ])('%s parks: %s', (_, r, forget, want) => {
    expect(parksOnRelease(r, forget)).toBe(want);
  });

  it('parks under the sticky key with no owner, updated now', () => {
    expect(parkedRecord({ ...heldByOld, sticky }, 99)).toEqual({ ...parked, updatedAt: 99 });
  });
});
