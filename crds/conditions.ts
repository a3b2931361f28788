import type { Condition } from './common-schemas.js';

/**
 * Returns conditions with `next` set, keeping `lastTransitionTime` when the status did not change (so watchers
 * see a stable object and `kubectl wait` works as expected). Pure; `now` is passed in.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime' | 'reason' | 'message'> & { reason: string; message?: string },
  now: string,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const cond: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message ?? '',
    lastTransitionTime: prev && prev.status === next.status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
    ...(next.observedGeneration !== undefined ? { observedGeneration: next.observedGeneration } : {}),
  };
  if (i >= 0) list[i] = cond;
  else list.push(cond);
  return list;
}

export function conditionStatus(conditions: readonly Condition[] | undefined, type: string): Condition['status'] | undefined {
  return conditions?.find((c) => c.type === type)?.status;
}

/** True when both lists say the same thing (ignoring transition times). */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const key = (l: readonly Condition[] | undefined): string =>
    JSON.stringify([...(l ?? [])].map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration ?? null]).sort());
  return key(a) === key(b);
}
