/**
 * Failure detection that tells "the peer is dead" from "the peer or I was not scheduled", pure (the caller passes
 * every time on its own monotonic clock, performance.now() in the agents).
 *
 * Two ideas, each from a detector that lives on busy machines:
 *
 * - **Only on-time evidence convicts** (Cassandra's local-pause guard). The prober measures how late its own timer
 *   fired. A tick that fired late (the process was not scheduled) neither counts a miss nor declares a death, and the
 *   time it spent not running is not counted as the peer's silence: whatever the peer did meanwhile, this process
 *   was in no position to hear it. What counts as "late" adapts to this host too (see `SchedulerLateness`): on a
 *   host whose every tick is 100 ms late, 100 ms is normal, and a dead peer must still be found.
 * - **The threshold follows the jitter actually observed** (phi accrual, Hayashibara et al., as Akka and Cassandra
 *   use it). The gaps between the peer's answers give a mean and a spread; the peer is dead once its credited
 *   silence is so long that an answer would be a `phi`-sigma event, and never shorter than the longest gap seen
 *   recently (a pause that happened before is evidently survivable). The result is clamped to the profile's
 *   [minimum, maximum] detection time: on a quiet host the detector is exactly as fast as `misses × interval`; on
 *   a loaded one it waits longer, never longer than the maximum.
 */

import { DEFAULT_JITTER_MEMORY_MS, RecentMax, stallMemory, type StallMemory } from './recent-max.js';

export interface FailureDetectorOptions {
  /** The probe interval: the period the detector's `tick` is meant to be called at. */
  readonly intervalMs: number;
  /** At least this many on-time rounds without any answer before a death (as the plain counter had it). */
  readonly misses: number;
  /** Floor of the silence that convicts (quiet host): `misses × interval` keeps the old speed. */
  readonly minDetectionMs: number;
  /** Ceiling of the silence that convicts, however jittery the peer's answers have been. */
  readonly maxDetectionMs: number;
  /** Tail quantile for the phi threshold in standard deviations (default 5.6, phi ≈ 8 under a normal tail). */
  readonly sigmas?: number;
  /** Inter-arrival samples kept per peer (default 500). */
  readonly window?: number;
  /**
   * How long a stall (the peer's longest gap, this prober's own lateness) keeps widening the threshold after it
   * happened (default `DEFAULT_JITTER_MEMORY_MS`). See recent-max.ts for why this is a time and not a count.
   */
  readonly memoryMs?: number;
}

export { DEFAULT_JITTER_MEMORY_MS };

/** What one tick of the prober concluded. */
export interface TickVerdict {
  /** How late this tick fired, ms (0 when on time or early). */
  readonly latenessMs: number;
  /** Late beyond what this host normally shows: no miss counted, no death declared. */
  readonly late: boolean;
  /** Peers declared dead by this tick. */
  readonly down: string[];
}

/** A fixed-size ring of numbers with running sums (mean and standard deviation in O(1)). */
class Ring {
  private readonly xs: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSq = 0;

  constructor(private readonly size: number) {}

  push(x: number): void {
    if (this.xs.length < this.size) this.xs.push(x);
    else {
      const old = this.xs[this.next] ?? 0;
      this.sum -= old;
      this.sumSq -= old * old;
      this.xs[this.next] = x;
    }
    this.next = (this.next + 1) % this.size;
    this.sum += x;
    this.sumSq += x * x;
  }

  get length(): number {
    return this.xs.length;
  }

  mean(): number {
    return this.xs.length ? this.sum / this.xs.length : 0;
  }

  std(): number {
    const n = this.xs.length;
    if (n < 2) return 0;
    const m = this.sum / n;
    return Math.sqrt(Math.max(0, this.sumSq / n - m * m));
  }

  max(): number {
    let m = 0;
    for (const x of this.xs) if (x > m) m = x;
    return m;
  }

  /** The q-quantile (0..1) of the kept samples, 0 when empty. */
  quantile(q: number): number {
    if (this.xs.length === 0) return 0;
    const s = [...this.xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  }
}

/**
 * How late this process's own periodic timer fires, and whether one firing was late *for this host*. Late means
 * more than one whole period behind, and more than twice what is typical here lately (the median of the last 64
 * ticks): on a quiet host a 100 ms stall is an event to discount; on a host where every tick comes 150 ms late
 * it is the norm, and refusing to judge on it would never find a dead peer (the detector still subtracts every
 * tick's lateness from the silence it credits, so judging a late tick costs nothing in false deaths).
 */
export class SchedulerLateness {
  private readonly recent = new Ring(64);
  private readonly longest: StallMemory;
  private prevAt: number | undefined;
  private typical = 0;
  private sinceSort = 0;

  /**
   * `ignoreAboveMs`: a stall this long is an outage of this process (SIGSTOP, a frozen VM), not scheduling jitter:
   * no margin within the profile could have covered it, so it does not widen one afterwards (default: never ignored).
   */
  constructor(
    private readonly periodMs: number,
    memory: number | StallMemory = DEFAULT_JITTER_MEMORY_MS,
    private readonly ignoreAboveMs = Number.POSITIVE_INFINITY,
  ) {
    this.longest = stallMemory(memory);
  }

  /** Call at every firing; `expectedAt` defaults to the previous firing plus one period. */
  observe(now: number, expectedAt?: number): { latenessMs: number; late: boolean } {
    const expected = expectedAt ?? (this.prevAt === undefined ? now : this.prevAt + this.periodMs);
    this.prevAt = now;
    const latenessMs = Math.max(0, now - expected);
    const late = latenessMs > this.toleranceMs();
    this.recent.push(latenessMs);
    if (latenessMs < this.ignoreAboveMs) this.longest.push(now, latenessMs);
    // The median is re-sorted every 16 ticks only: it moves slowly, and ticks are the hot path.
    if (++this.sinceSort >= 16 || this.recent.length < 16) {
      this.sinceSort = 0;
      this.typical = this.recent.quantile(0.5);
    }
    return { latenessMs, late };
  }

  /** Lateness beyond which a firing counts as "not scheduled". */
  toleranceMs(): number {
    return Math.max(this.periodMs, 2 * this.typical);
  }

  /** The longest stall within the memory before `now` (default: the last firing). */
  maxMs(now: number | undefined = this.prevAt): number {
    return now === undefined ? 0 : this.longest.max(now);
  }

  /** A high quantile of recent lateness: how much earlier than nominal a deadline-bound timer should be set. */
  p90Ms(): number {
    return this.recent.quantile(0.9);
  }
}

interface PeerState {
  lastReplyAt: number | undefined;
  /** Silence credited to the peer since its last answer (own stalls subtracted). */
  credited: number;
  /** Time up to which silence has been credited. */
  anchor: number;
  /** On-time rounds since the last answer. */
  missed: number;
  repliedSinceTick: boolean;
  up: boolean | undefined;
  readonly gaps: Ring;
  /** The longest gaps between answers within the memory (the `seen` term of the threshold). */
  readonly longGaps: RecentMax;
}

/** What jitter may add to the threshold, as a multiple of the longest gap or own stall within the memory. */
const PHI_CAP_FACTOR = 2;
/** The standard deviation never counts as smaller than a quarter interval (Akka's min-std-deviation). */
const MIN_STD_FRACTION = 0.25;
/**
 * Below this many gaps the spread means nothing yet (one second of the default profile's answers): a peer that has
 * answered but not for long is judged by the ceiling. A peer that never answered has no evidence of life: the floor.
 */
const MIN_SAMPLES = 32;

/**
 * Per-peer phi-accrual-style detector driven by the prober's ticks and the peer's answers. `reply` for every answer
 * (any recent probe: a slow answer still proves life), `tick` once per probe round *before* sending the round's
 * probes. A peer is declared down when, on an on-time tick, it has missed at least `misses` on-time rounds and its
 * credited silence reaches `thresholdMs`; up again on its first answer.
 */
export class FailureDetector {
  private readonly peers = new Map<string, PeerState>();
  private readonly sched: SchedulerLateness;
  private readonly sigmas: number;
  private readonly memoryMs: number;
  /** The latest time this detector was told (tick or reply): "now" for the recency windows. */
  private lastSeen = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly o: FailureDetectorOptions,
    names: Iterable<string> = [],
    start = 0,
  ) {
    if (!(o.intervalMs > 0) || !(o.misses >= 1) || !(o.minDetectionMs > 0) || o.maxDetectionMs < o.minDetectionMs) {
      throw new RangeError('failure detector: need intervalMs > 0, misses ≥ 1, 0 < minDetectionMs ≤ maxDetectionMs');
    }
    this.sigmas = o.sigmas ?? 5.6;
    this.memoryMs = o.memoryMs ?? DEFAULT_JITTER_MEMORY_MS;
    // An own stall as long as the ceiling is an outage of this prober (SIGSTOP, a frozen VM): no threshold within
    // the profile could have covered it, and it must not hold every verdict of the next `memoryMs` at the ceiling.
    this.sched = new SchedulerLateness(o.intervalMs, this.memoryMs, o.maxDetectionMs);
    for (const n of names) this.add(n, start);
  }

  add(name: string, now: number): void {
    if (this.peers.has(name)) return;
    this.peers.set(name, {
      lastReplyAt: undefined, credited: 0, anchor: now, missed: 0, repliedSinceTick: false, up: undefined,
      gaps: new Ring(this.o.window ?? 500), longGaps: new RecentMax(this.memoryMs),
    });
  }

  /** The peer answered (read at `now`). Returns true when this brings it up. */
  reply(name: string, now: number): boolean {
    const p = this.peers.get(name);
    if (!p) return false;
    this.lastSeen = Math.max(this.lastSeen, now);
    // Gaps that span one of our own stalls are kept: a host that froze us froze the peer too, and its next freeze
    // must not read as a death. A gap as long as the ceiling is an outage (a SIGSTOP, a restart, a real death:
    // seconds), not jitter: kept, it made every later verdict wait the full ceiling for as long as it stayed in the
    // window (and one such sample makes mean + 5.6 σ exceed the ceiling for 500 samples). A shorter gap counts
    // even when it ended a death we declared: that death was false (the peer answered within what the profile
    // allows), and its gap is exactly the jitter the threshold failed to allow for. Thrown away, the next vCPU
    // freeze of the same length convicted the live peer again (issue #12, `steady` under stress: 4 in 120 s).
    if (p.lastReplyAt !== undefined) {
      const gap = Math.max(0, now - p.lastReplyAt);
      if (gap < this.o.maxDetectionMs) {
        p.gaps.push(gap);
        p.longGaps.push(now, gap);
      }
    }
    p.lastReplyAt = now;
    p.credited = 0;
    p.anchor = now;
    p.missed = 0;
    p.repliedSinceTick = true;
    if (p.up === true) return false;
    p.up = true;
    return true;
  }

  /**
   * One probe round at `now`. `expectedAt`: when this tick was due (default: previous tick + interval). A peer
   * never heard from is declared down too after the same evidence (so callers stop assuming it is fine).
   */
  tick(now: number, expectedAt?: number): TickVerdict {
    const { latenessMs, late } = this.sched.observe(now, expectedAt);
    this.lastSeen = Math.max(this.lastSeen, now);
    const down: string[] = [];
    for (const [name, p] of this.peers) {
      // Our own lateness is not the peer's silence: whatever it did meanwhile, we were not there to hear it.
      p.credited += Math.max(0, now - p.anchor - latenessMs);
      p.anchor = now;
      if (!late && !p.repliedSinceTick) p.missed += 1;
      p.repliedSinceTick = false;
      if (!late && p.up !== false && p.missed >= this.o.misses && p.credited >= this.thresholdMs(name)) {
        p.up = false;
        down.push(name);
      }
    }
    return { latenessMs, late, down };
  }

  /**
   * Silence that convicts `name` now: mean gap + `sigmas` standard deviations, at least the longest gap seen within
   * the memory plus two intervals (or a quarter more), at least our own longest stall within the memory plus as much (on a shared
   * host the peer is stalled as long as we are, we just do not see it), clamped to [minDetectionMs, maxDetectionMs].
   * Gaps and stalls as long as the ceiling are outages, not evidence of jitter (see reply()).
   */
  thresholdMs(name: string, now: number = this.lastSeen): number {
    const p = this.peers.get(name);
    const { minDetectionMs: lo, maxDetectionMs: hi, intervalMs } = this.o;
    if (!p || p.lastReplyAt === undefined) return lo;
    if (p.gaps.length < MIN_SAMPLES) return hi;
    const recent = Math.max(p.longGaps.max(now), this.sched.maxMs(now));
    // The phi statistics remember 500 samples (15 s at 30 ms): one moderate stall long ago still widens σ. What
    // jitter may add is therefore capped by what was actually observed within the memory: at most twice the
    // longest recent gap or own stall. A quiet minute leaves the threshold near the floor.
    const phi = Math.min(
      p.gaps.mean() + this.sigmas * Math.max(p.gaps.std(), intervalMs * MIN_STD_FRACTION),
      PHI_CAP_FACTOR * recent + intervalMs,
    );
    // On top of the stall, two intervals (the peer may freeze just before answering a probe: one interval of phase;
    // the verdict falls on the tick grid while the answer is on its way back: one of margin) or a quarter of the
    // stall, whichever is more (the next freeze is not exactly as long as the last: with 20 ms alone, a simulated
    // 100 ms vCPU freeze after a 107 ms gap convicted the fast profile's live peer).
    const seen = recent + Math.max(2 * intervalMs, recent / 4);
    return Math.min(hi, Math.max(lo, phi, seen));
  }

  /** The prober's own lateness tracker (the lease holder uses the same measure). */
  get scheduler(): SchedulerLateness {
    return this.sched;
  }

  /** Silence credited to `name` since its last answer (own stalls subtracted), ms: the evidence of a verdict. */
  silenceMs(name: string): number {
    return this.peers.get(name)?.credited ?? 0;
  }

  isUp(name: string): boolean | undefined {
    return this.peers.get(name)?.up;
  }
}
