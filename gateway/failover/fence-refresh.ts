import { DEFAULT_JITTER_MEMORY_MS, stallMemory, type StallMemory } from './recent-max.js';

/** A fence refresh that may have come after the fence it replaced had run out: egress was dark meanwhile. */
export interface FenceLapse {
  /** The most the fence can have been dark, ms: from the earliest the old one ran out to when the new one was in force. */
  readonly darkMsAtMost: number;
  /** The least it was dark, ms; > 0 only when the old fence certainly ran out before the new refresh began. */
  readonly darkMsAtLeast: number;
  /** How long the refresh itself took (its fence transaction), ms. */
  readonly refreshMs: number;
}

/**
 * What a holder learns from timing its own fence refreshes, pure (the caller passes the times).
 *
 * Why: the fence is refreshed by a transaction in the gateway's `nft` session after each granted renewal, and the
 * kernel counts the new timeout from the commit. The lease TTL covered the holder's own lateness and the store's
 * answer time, each at its worst within the memory, but not that transaction, and a late refresh was silent: the
 * agent's bookkeeping had moved on to the new deadline. Seen as an unexplained 62 ms egress gap in a stressed
 * 10-minute `steady` run (#12): the holder was not late, its store answered in time, its TTL sat at the floor. The
 * same run with this watch logged a lapse at each of the three egress losses, each after a refresh that took
 * 14-29 ms (a fence transaction alone, standalone on this VM: p50 1.2 ms, p99.9 11 ms, max 22-31 ms per 30 s).
 *
 * So the holder now measures the one quantity its fence depends on, end to end: the fence's *age* when the next
 * refresh was in force, from the send of the latest renewal granted before it (its lateness, the store's answer, the
 * transaction, and any wait behind the previous refresh, as they happened together). A lapse is an age beyond the
 * life the old fence was given.
 *
 * Bounds, for a refresh that ran from `startedAt` to `endedAt` and asked for the absolute deadline `until`: the
 * kernel's expiry lies in [until, until + refresh time] (counted from the commit, which is within the call, from a
 * timeout computed at its start). So the previous fence ran out no earlier than its `until`; the new one was in
 * force no later than `endedAt`.
 */
export class FenceRefreshWatch {
  private prev: { until: number; refreshMs: number; grantedAt: number } | undefined;
  private readonly ages: StallMemory;

  /**
   * `ignoreAboveMs`: a fence this old at its refresh is an outage (the session died and was replaced, the process
   * was stopped), not jitter; no lease within the profile could have covered it, so it does not widen the next ones.
   */
  constructor(
    memory: number | StallMemory = DEFAULT_JITTER_MEMORY_MS,
    private readonly ignoreAboveMs = Number.POSITIVE_INFINITY,
  ) {
    this.ages = stallMemory(memory);
  }

  /**
   * A fence refresh to `until`, after the latest grant, whose request was sent at `grantedAt`, ran from `startedAt`
   * to `endedAt`.
   * Returns the lapse it may have closed, if any. The first refresh after a gain (or after `reset`) is a takeover,
   * not a refresh: it is neither timed nor judged.
   */
  refreshed(startedAt: number, endedAt: number, until: number, grantedAt: number): FenceLapse | undefined {
    const refreshMs = Math.max(0, endedAt - startedAt);
    const prev = this.prev;
    // A refresh that left no live fence behind (its deadline passed during it) starts the count again.
    this.prev = until > endedAt ? { until, refreshMs, grantedAt } : undefined;
    if (prev === undefined) return undefined;
    const age = endedAt - prev.grantedAt;
    if (age < this.ignoreAboveMs) this.ages.push(endedAt, age);
    if (endedAt <= prev.until) return undefined;
    return {
      darkMsAtMost: endedAt - prev.until,
      darkMsAtLeast: Math.max(0, startedAt - (prev.until + prev.refreshMs)),
      refreshMs,
    };
  }

  /** The fence was dropped on purpose (step-down, lease lost): the next refresh is a takeover. */
  reset(): void {
    this.prev = undefined;
  }

  /**
   * The oldest a fence was within the memory before `now` when its refresh was in force, ms, from the send of the
   * renewal behind it; 0 when nothing was refreshed within the memory.
   */
  maxAgeMs(now: number): number {
    return this.ages.max(now);
  }
}
