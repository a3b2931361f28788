/**
 * Default memory of the detector's and the lease keeper's stall estimates. Long enough that a stall recurring every
 * few seconds (a major GC, a periodic burst of work beside us) keeps the margin wide; short enough that one stall —
 * a SIGSTOP, a restart, a takeover's own work — no longer sets the detection time of faults that come seconds later
 * (it did for 15-20 s when the memory was 500 samples, and every link-down/partition/node-death trial of a quiet
 * run then took the 600 ms ceiling).
 */
export const DEFAULT_JITTER_MEMORY_MS = 3_000;

/**
 * The largest value observed within the last `memoryMs`, pure (the caller passes the time). A monotonic deque: each
 * push drops the older entries it dominates, so `max` is O(1) amortised on the hot path.
 *
 * Why a time window and not "the last N samples": the failure detector and the lease keeper widen their margins by
 * the longest stall they have seen. Counted in samples, one stall pins the margin at its ceiling for 500 ticks
 * (15-20 s) — after a SIGSTOP, a restart or a takeover's own work, every fault in that time was judged at the
 * ceiling (measured: link-down/partition/node-death trials at ≈ 600 ms detection on a quiet host). Counted in time,
 * a stall widens the margin for `memoryMs` after it and no longer: a host that keeps stalling keeps it wide.
 */
export class RecentMax {
  private readonly q: { at: number; x: number }[] = [];
  private head = 0;

  constructor(readonly memoryMs: number) {
    if (!(memoryMs > 0)) throw new RangeError('RecentMax: memoryMs must be > 0');
  }

  push(at: number, x: number): void {
    while (this.q.length > this.head && (this.q[this.q.length - 1]?.x ?? Infinity) <= x) this.q.pop();
    this.q.push({ at, x });
  }

  /** The largest value pushed within `memoryMs` before `now` (0 when none). */
  max(now: number): number {
    while (this.head < this.q.length && (this.q[this.head]?.at ?? Infinity) < now - this.memoryMs) this.head++;
    if (this.head > 64 && this.head * 2 > this.q.length) {
      this.q.splice(0, this.head);
      this.head = 0;
    }
    return this.head < this.q.length ? (this.q[this.head]?.x ?? 0) : 0;
  }
}
