/**
 * Default memory of the detector's and the lease keeper's stall estimates: how long a stall keeps the margins wide.
 *
 * 30 s, because the stalls that matter recur less often than every few seconds. On the project VM under
 * `--stress cpu=8` the hypervisor stops one virtual CPU (or both) for ~100 ms every 1-10 s: a SCHED_FIFO 99 sleeper
 * pinned to one CPU sees gaps of 99-100 ms, exactly when the agents log that they ran late, so nothing inside the
 * guest (priority, a worker thread) runs through them. With a 3 s memory the margins shrank back to the quiet floor
 * between two such freezes, and the next one made the node call a live gateway dead (silence 119 ms against a
 * 90 ms threshold, 8 role changes in a 120 s `steady` run) and let the holder's fence lapse (TTL back to 150 ms).
 *
 * What must not be remembered this long is an outage, and that is kept out where it is measured, not by a short
 * memory: a stall or a gap at least as long as the profile's ceiling (a SIGSTOP, a restart, a death) widens nothing
 * (failure-detector.ts, lease-keeper.ts). When the memory was 500 samples and outages were kept, every fault of the
 * next 15-20 s was judged at the ceiling.
 */
export const DEFAULT_JITTER_MEMORY_MS = 30_000;

/**
 * How long a lease holder remembers a stall of its fence path (its own lateness, the store's answer, the fence
 * transaction; gateway-agent.ts, fence-refresh.ts) seen while it had held the lease for `SETTLED_HOLD_MS` or
 * longer, when it picks the TTL to ask for. Longer than the detector's memory, because the two err on different
 * sides: a detector that remembers a stall too briefly makes one false verdict and learns; a holder whose TTL is
 * back at its floor when the next stall comes drops the egress IP for it, every time. In a stressed 10-minute
 * `steady` run (fast profile, `--stress cpu=8`) the stalls that lapse a floor-TTL fence (a fence 40-50 ms old at its
 * refresh) came 50-117 s apart; with the 30 s memory the TTL was at its floor again before each one, and each of
 * the three egress losses of the run was such a lapse.
 */
export const LEASE_STALL_MEMORY_MS = 180_000;

/**
 * A hold younger than this is still settling: the takeover's own work (the acquire, the first fence, the
 * announcement, a restarted agent warming up) stalls it, and that says nothing about the host. Its stalls are
 * remembered for the detector's 30 s only. Why: with every stall kept for 3 minutes, the quiet bench (fast profile,
 * a fault every ~12 s, agents restarted after most) ran every holder on the stalls of its own start-ups and
 * takeovers: p99 111 → 218 ms, quiet.
 */
export const SETTLED_HOLD_MS = 30_000;

/** Where a stall estimate keeps its samples: the largest within some memory. */
export interface StallMemory {
  push(at: number, x: number): void;
  max(now: number): number;
}

/** A memory given as a length (a plain `RecentMax` of it) or as one built by the caller (a holder's `TieredMax`). */
export function stallMemory(memory: number | StallMemory): StallMemory {
  return typeof memory === 'number' ? new RecentMax(memory) : memory;
}

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
export class RecentMax implements StallMemory {
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

/**
 * Two memories in one: every sample for `shortMs`, and the samples for which `long(at)` holds for `longMs` too
 * (a lease holder's stalls seen once its hold has settled, see SETTLED_HOLD_MS).
 */
export class TieredMax implements StallMemory {
  private readonly short: RecentMax;
  private readonly longer: RecentMax;

  constructor(
    shortMs: number,
    longMs: number,
    private readonly long: (at: number) => boolean,
  ) {
    this.short = new RecentMax(shortMs);
    this.longer = new RecentMax(longMs);
  }

  push(at: number, x: number): void {
    this.short.push(at, x);
    if (this.long(at)) this.longer.push(at, x);
  }

  max(now: number): number {
    return Math.max(this.short.max(now), this.longer.max(now));
  }
}
