import { describe, expect, it } from '@jest/globals';
import { conflictCondition } from './sticky-conflict.js';

const owned = { reason: 'OwnedElsewhere', message: 'ReservedIP routers is owned by cluster east and changes only there; the local edit was reverted' };

describe('the Conflict condition of a synced object', () => {
  it('reports a reverted edit, and keeps reporting it once the object reads reverted', () => {
    const first = conflictCondition({ seen: undefined, reported: undefined, conflict: owned, failed: false, pushed: false });
    expect(first.condition).toEqual({ type: 'Conflict', status: 'True', ...owned });
    // Next round, the informer has seen the report: kept.
    expect(conflictCondition({ seen: first.condition, reported: first.remember, conflict: undefined, failed: false, pushed: false }).condition).toEqual(first.condition);
  });

  it('keeps it also when the informer has not seen the report yet (the object reads reverted, its status is the old one)', () => {
    const first = conflictCondition({ seen: undefined, reported: undefined, conflict: owned, failed: false, pushed: false });
    const next = conflictCondition({ seen: { status: 'False', reason: 'NoConflict' }, reported: first.remember, conflict: undefined, failed: false, pushed: false });
    expect(next.condition).toMatchObject({ status: 'True', reason: 'OwnedElsewhere' });
    expect(next.remember).toEqual(first.remember);
  });

  it('clears it when the next edit goes through, or when the round failed (the failure is reported)', () => {
    const { remember } = conflictCondition({ seen: undefined, reported: undefined, conflict: owned, failed: false, pushed: false });
    for (const o of [{ failed: false, pushed: true }, { failed: true, pushed: false }]) {
      const r = conflictCondition({ seen: { status: 'True', ...owned }, reported: remember, conflict: undefined, ...o });
      expect(r.condition).toEqual({ type: 'Conflict', status: 'False', reason: 'NoConflict' });
      expect(r.remember).toBeUndefined();
    }
  });

  it('a conflict that is not sticky (an overlap the next round may not have) is neither kept nor remembered', () => {
    const r = conflictCondition({ seen: undefined, reported: undefined, conflict: { reason: 'CidrOverlap', message: 'overlaps pool a' }, failed: false, pushed: false });
    expect(r.remember).toBeUndefined();
    expect(conflictCondition({ seen: r.condition, reported: undefined, conflict: undefined, failed: false, pushed: false }).condition.status).toBe('False');
  });
});
