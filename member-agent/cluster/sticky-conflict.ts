/**
 * The Conflict condition of one synced object, pure. A reverted edit (a mirror edited locally, an immutable field
 * changed, a name taken at the broker) stays reported until the next edit of the object goes through — also when
 * the agent's informer has not seen its own report yet: the round after a revert often reads the object already
 * reverted but its status not yet updated, and it cleared the Conflict it had just written (seen:
 * `cluster-sync.test.ts` waited 30 s for "west edit reverted with a Conflict", 1 run in 9).
 */
export interface ConflictCondition {
  type: 'Conflict';
  status: 'True' | 'False';
  reason: string;
  message?: string;
}

export const STICKY_CONFLICTS: ReadonlySet<string> = new Set(['ImmutableField', 'BrokerOwned', 'BrokerChanged', 'NameTaken', 'OwnedElsewhere']);

export function conflictCondition(o: {
  /** The Conflict condition on the object as the informer has it. */
  seen: { status: string; reason: string; message?: string } | undefined;
  /** The sticky conflict this agent last reported for the object, if any. */
  reported: ConflictCondition | undefined;
  /** This round's conflict, if any. */
  conflict: { reason: string; message: string } | undefined;
  /** This round failed for the object (the failure is reported instead). */
  failed: boolean;
  /** This round pushed a local edit to the broker: the edit went through, the old conflict is over. */
  pushed: boolean;
}): { condition: ConflictCondition; remember: ConflictCondition | undefined } {
  if (o.conflict) {
    const c: ConflictCondition = { type: 'Conflict', status: 'True', reason: o.conflict.reason, message: o.conflict.message };
    return { condition: c, remember: STICKY_CONFLICTS.has(c.reason) ? c : undefined };
  }
  const prev = o.seen?.status === 'True' ? { type: 'Conflict' as const, status: 'True' as const, reason: o.seen.reason, ...(o.seen.message !== undefined ? { message: o.seen.message } : {}) } : o.reported;
  if (!o.failed && !o.pushed && prev?.status === 'True' && STICKY_CONFLICTS.has(prev.reason)) return { condition: prev, remember: prev };
  return { condition: { type: 'Conflict', status: 'False', reason: 'NoConflict' }, remember: undefined };
}
