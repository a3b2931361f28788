import { describe, expect, it } from '@jest/globals';
import { planBlockRelease, planGarbageCollection } from './gc-plan.js';
import { matchesSelector } from './label-selector.js';
import type { LabelSelector } from './model.js';
import type { AllocationRecord } from './stores/allocation-store.js';

const rec = (address: string, updatedAt: number, owner?: { containerId: string; podUid?: string }, sticky?: string): AllocationRecord => ({
  address,
  family: 'ipv4',
  pool: 'p',
  ownerKey: owner ? `ctr:${owner.containerId}/eth0` : `sticky:${sticky}`,
  ...(owner ? { owner: { ...owner, ifName: 'eth0' } } : {}),
  ...(sticky ? { sticky } : {}),
  updatedAt,
});

describe('planGarbageCollection', () => {
  const now = 100_000;
  const grace = 10_000;
  it.each([
    ['live container', rec('10.0.0.1', 0, { containerId: 'a' }), 'keep'],
    ['live pod uid, container gone', rec('10.0.0.2', 0, { containerId: 'gone', podUid: 'u1' }), 'keep'],
    ['owner gone', rec('10.0.0.3', 0, { containerId: 'gone' }), 'orphan'],
    ['owner gone but young', rec('10.0.0.4', now - grace + 1, { containerId: 'gone' }), 'keep'],
    ['owner gone, exactly at grace', rec('10.0.0.5', now - grace, { containerId: 'gone' }), 'orphan'],
    ['StatefulSet pod gone (parks)', rec('10.0.0.6', 0, { containerId: 'gone' }, 'db/pg/0/eth0'), 'orphan'],
    ['parked, StatefulSet alive', rec('10.0.0.7', 0, undefined, 'db/pg/1/eth0'), 'keep'],
    ['parked, StatefulSet gone', rec('10.0.0.8', 0, undefined, 'db/old/0/eth0'), 'unpin'],
    ['parked, StatefulSet gone, young', rec('10.0.0.9', now - 1, undefined, 'db/old/0/eth0'), 'keep'],
    ['unreadable record', { address: '10.0.0.10', family: 'ipv4', pool: '', ownerKey: 'unreadable:10.0.0.10', updatedAt: 0 } as AllocationRecord, 'keep'],
  ] as const)('%s → %s', (_n, r, want) => {
    const plan = planGarbageCollection([r], { containerIds: ['a'], podUids: ['u1'], statefulSets: ['db/pg'] }, now, grace);
    const got = plan.orphans.length ? 'orphan' : plan.unpin.length ? 'unpin' : 'keep';
    expect(got).toBe(want);
  });
});

describe('planBlockRelease', () => {
  it('returns only blocks empty for the whole grace period', () => {
    const b = (cidr: string, used: number, emptySince: number) => ({ pool: 'p', cidr, node: 'n1', used, emptySince });
    const plan = planBlockRelease([b('10.0.0.0/26', 0, 0), b('10.0.0.64/26', 1, 0), b('10.0.0.128/26', 0, 95_000), b('10.0.0.192/26', 0, 90_000)], 100_000, 10_000);
    expect(plan.map((x) => x.cidr)).toEqual(['10.0.0.0/26', '10.0.0.192/26']);
  });
});

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front' };
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { app: 'web' } }, true],
    [{ matchLabels: { app: 'db' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
    [{ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
  ] as [LabelSelector | undefined, boolean][])('%j → %s', (sel, want) => {
    expect(matchesSelector(sel, labels)).toBe(want);
  });
});
