import { describe, expect, it } from '@jest/globals';
import { DEFAULT_JITTER_MEMORY_MS, FailureDetector, SchedulerLateness, type FailureDetectorOptions } from './failure-detector.js';
import { seededRandom } from '../../testing/index.js';
import { PROFILES, type FailoverProfile } from './profiles.js';

const opts = (p: FailoverProfile): FailureDetectorOptions => ({
  intervalMs: p.probeIntervalMs, misses: p.misses, minDetectionMs: p.minDetectionMs, maxDetectionMs: p.maxDetectionMs,
});

/** Every simulated run can be replayed from its seed. */
const rng = seededRandom;

/** Feeds a detector answered rounds at the exact interval from `t`; returns the time of the last round. */
function steady(d: FailureDetector, p: FailoverProfile, t: number, rounds: number): number {
  for (let i = 0; i < rounds; i++) {
    d.reply('gw', t + 1);
    t += p.probeIntervalMs;
    d.tick(t);
  }
  return t;
}

describe('FailureDetector (table)', () => {
  for (const p of [PROFILES.default, PROFILES.fast]) {
    const I = p.probeIntervalMs;
    it(`${p.name}: quiet host: down after \`misses\` silent on-time rounds, exactly the old speed; up on the next answer`, () => {
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = steady(d, p, 0, 100);
      const last = t - I + 1; // the last answer
      const downs: number[] = [];
      for (let i = 0; i < 10 && downs.length === 0; i++) {
        t += I;
        if (d.tick(t).down.includes('gw')) downs.push(t);
      }
      expect(downs).toHaveLength(1);
      const took = (downs[0] ?? 0) - last;
      expect(took).toBeGreaterThanOrEqual(p.minDetectionMs);
      expect(took).toBeLessThanOrEqual(p.minDetectionMs + 2 * I);
      expect(d.reply('gw', t + 1)).toBe(true);
      expect(d.isUp('gw')).toBe(true);
    });

    it(`${p.name}: a late tick counts no miss, declares no death, and its lateness is not the peer's silence`, () => {
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = steady(d, p, 0, 100);
      // The process is not scheduled for 10 × the minimum detection time; the peer's answers were not heard.
      t += I + 10 * p.minDetectionMs;
      const v = d.tick(t, t - 10 * p.minDetectionMs);
      expect(v.late).toBe(true);
      expect(v.down).toEqual([]);
      // One on-time round after the stall: still only one miss, far from a verdict.
      t += I;
      expect(d.tick(t).down).toEqual([]);
      // The peer answers again: nothing happened.
      expect(d.reply('gw', t + 1)).toBe(false);
      expect(d.isUp('gw')).toBe(true);
    });

    it(`${p.name}: a peer whose answers were jittery is given longer, never more than the maximum`, () => {
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = 0;
      // Answers every interval, but one in five arrives 4 intervals late (the peer was not scheduled).
      for (let i = 0; i < 200; i++) {
        t += I;
        d.tick(t);
        d.reply('gw', t + (i % 5 === 0 ? 4 * I : 1));
        if (i % 5 === 0) t += 4 * I;
      }
      const th = d.thresholdMs('gw');
      expect(th).toBeGreaterThan(p.minDetectionMs);
      expect(th).toBeLessThanOrEqual(p.maxDetectionMs);
      // Pathological spread (answers alternately at once and just short of the ceiling): clamped to the maximum.
      // (Gaps beyond the ceiling are outages and count for nothing.)
      const e = new FailureDetector(opts(p), ['gw']);
      e.tick(0);
      t = 0;
      for (let i = 0; i < 100; i++) {
        t += i % 2 ? I : p.maxDetectionMs - 1;
        e.reply('gw', t);
      }
      expect(e.thresholdMs('gw')).toBe(p.maxDetectionMs);
    });

    it(`${p.name}: after a peer died and came back, its next death is found at the floor speed (the outage is not jitter)`, () => {
      // Seen in the scenario runs: the gap that ended a declared death (seconds: a SIGSTOP, a restart) was kept as
      // "a survivable gap", and every fault for the next 15 s was judged at the ceiling.
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = steady(d, p, 0, 200);
      let down = false;
      for (let i = 0; i < 3000 / I; i++) {
        t += I;
        down = d.tick(t).down.includes('gw') || down;
      }
      expect(down).toBe(true);
      t = steady(d, p, t, 100);
      expect(d.isUp('gw')).toBe(true);
      const last = t - I + 1;
      let at: number | undefined;
      for (let i = 0; i < 100 && at === undefined; i++) {
        t += I;
        if (d.tick(t).down.includes('gw')) at = t;
      }
      expect((at ?? Infinity) - last).toBeLessThanOrEqual(p.minDetectionMs + 2 * I);
    });

    it(`${p.name}: one own stall widens the threshold for the memory (${DEFAULT_JITTER_MEMORY_MS} ms), then no longer`, () => {
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = steady(d, p, 0, 200);
      // The prober is not scheduled for 0.8 × the ceiling once (a GC, a burst of work); then all is quiet again.
      const stall = Math.round(0.8 * p.maxDetectionMs);
      t += I + stall;
      expect(d.tick(t, t - stall).late).toBe(true);
      t = steady(d, p, t, 5);
      expect(d.thresholdMs('gw')).toBeGreaterThanOrEqual(stall);
      steady(d, p, t, Math.ceil(DEFAULT_JITTER_MEMORY_MS / I) + 1);
      expect(d.thresholdMs('gw')).toBeLessThanOrEqual(p.minDetectionMs + 2 * I);
    });

    /**
     * A live peer frozen for `freezeMs` right before it would answer (the worst phase): ticks stay on time, the
     * answers to every probe sent meanwhile arrive at once when it runs again. Returns whether it was declared dead.
     */
    const peerFreeze = (d: FailureDetector, t: number, freezeMs: number): { t: number; down: boolean } => {
      const lastReply = t - I + 1;
      const back = lastReply + I + freezeMs;
      let down = false;
      for (;;) {
        const next = t + I;
        if (next > back) {
          d.reply('gw', back);
          return { t, down };
        }
        t = next;
        down = d.tick(t).down.includes('gw') || down;
      }
    };

    it(`${p.name}: a live peer frozen for 100 ms (its vCPU stopped by the hypervisor) is declared dead at most once: the same freeze ${DEFAULT_JITTER_MEMORY_MS / 1000} s later is not a death`, () => {
      // Seen in \`steady\` under --stress cpu=8: the node called a live gateway dead after 119 ms of silence (threshold
      // 90), four times in 120 s. The gap that ended the false death was thrown away as "an outage", and the 3 s
      // memory had forgotten the previous freeze anyway, so every freeze convicted again.
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = steady(d, p, 0, 200);
      const first = peerFreeze(d, t, 100);
      expect(first.down).toBe(p.minDetectionMs < 100 + I); // nothing learnt yet: the floor convicts
      t = steady(d, p, first.t + I, Math.floor((DEFAULT_JITTER_MEMORY_MS - 2_000) / I));
      expect(peerFreeze(d, t, 100).down).toBe(false);
    });

    it(`${p.name}: the prober's own 100 ms stall covers the peer's freeze of the same length ${DEFAULT_JITTER_MEMORY_MS / 1000 - 2} s later`, () => {
      // The host stops one vCPU at a time: whoever was frozen last, the next freeze may be the peer's.
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = steady(d, p, 0, 200);
      t += I + 100;
      d.reply('gw', t - 1); // the answers were waiting in the socket
      expect(d.tick(t, t - 100).late).toBe(true);
      t = steady(d, p, t, Math.floor((DEFAULT_JITTER_MEMORY_MS - 2_000) / I));
      expect(peerFreeze(d, t, 100).down).toBe(false);
    });

    it(`${p.name}: an own stall as long as the ceiling (SIGSTOP of the prober) widens nothing`, () => {
      const d = new FailureDetector(opts(p), ['gw']);
      d.tick(0);
      let t = steady(d, p, 0, 200);
      const stall = p.maxDetectionMs + 50;
      t += I + stall;
      d.reply('gw', t - 1);
      expect(d.tick(t, t - stall).late).toBe(true);
      steady(d, p, t, 5);
      expect(d.thresholdMs('gw')).toBeLessThanOrEqual(p.minDetectionMs + 2 * I);
    });

    it(`${p.name}: a peer that never answered is down after the floor, so callers stop assuming it is fine`, () => {
      const d = new FailureDetector(opts(p), ['gw']);
      let down: number | undefined;
      for (let t = 0; t <= 20 * I && down === undefined; t += I) if (d.tick(t).down.length) down = t;
      expect(down).toBeGreaterThanOrEqual(p.minDetectionMs);
      expect(down).toBeLessThanOrEqual(p.minDetectionMs + I);
    });
  }

  it('SchedulerLateness: a rare stall is late; on a host where every tick is 50-300 ms late, that is the norm', () => {
    const quiet = new SchedulerLateness(30);
    let t = 0;
    for (let i = 0; i < 100; i++) expect(quiet.observe((t += 30 + (i % 3)), t - (i % 3)).late).toBe(false);
    expect(quiet.observe(t + 200, t + 30).late).toBe(true);
    const busy = new SchedulerLateness(30);
    const r = rng(7);
    let late = 0;
    t = 0;
    for (let i = 0; i < 500; i++) {
      const exp = t + 30;
      t = exp + 50 + 250 * r();
      if (busy.observe(t, exp).late && i > 64) late += 1;
    }
    expect(late).toBeLessThan(20);
    expect(busy.p90Ms()).toBeGreaterThan(200);
  });

  it('rejects nonsense options', () => {
    expect(() => new FailureDetector({ intervalMs: 0, misses: 3, minDetectionMs: 1, maxDetectionMs: 2 })).toThrow(RangeError);
    expect(() => new FailureDetector({ intervalMs: 10, misses: 3, minDetectionMs: 50, maxDetectionMs: 20 })).toThrow(RangeError);
  });
});

// --- A loaded scheduler, simulated ---------------------------------------------------------------------------------

interface Load {
  /** Probability that one of the prober's ticks is delayed, and by how much (ms). */
  readonly ownStallP: number;
  readonly ownStall: readonly [number, number];
  /** Every tick delayed (a host where the prober never runs on time). */
  readonly alwaysLate?: boolean;
  /** Host-wide freezes (prober and peer both stop), per second, and their length. */
  readonly freezesPerS: number;
  readonly freeze: readonly [number, number];
  /** The peer alone not scheduled: stalls per second and their length (probes arriving meanwhile wait). */
  readonly peerStallsPerS: number;
  readonly peerStall: readonly [number, number];
  /**
   * A stopped vCPU runs again after its slice (~100 ms on the project VM, never seen longer): freezes do not run
   * into each other (each starts after the previous one ended) and a peer's stall does not overlap a host freeze
   * (that is the same stopped vCPU). Default: independent windows that may chain into longer silences.
   */
  readonly boundedFreezes?: boolean;
}

interface SimResult {
  falseDowns: number;
  /** The old detector (misses consecutive probes each unanswered before the next tick), same event stream. */
  plainFalseDowns: number;
  detectedAt?: number;
  /** Sum of the prober's own lateness between the death and its detection. */
  ownLateAfterDeath: number;
}

/**
 * Discrete-event run of one prober and one peer under `load`: ticks at the interval, each possibly delayed (and
 * all of them during a host-wide freeze); probes reach the peer in 50 µs; the peer answers after its own delay
 * (and after any freeze); answers that arrive while the prober is stalled are read when it runs again, before its
 * tick (the real prober ticks in setImmediate, after the poll phase read the socket).
 */
function simulate(p: FailoverProfile, load: Load, seed: number, durationMs: number, deathAt?: number): SimResult {
  const r = rng(seed);
  const u = ([a, b]: readonly [number, number]): number => a + (b - a) * r();
  const windows = (perS: number, len: readonly [number, number]): [number, number][] => {
    const w: [number, number][] = [];
    for (let t = 0; perS > 0 && t < durationMs; ) {
      t += (-Math.log(1 - r()) * 1000) / perS;
      const end = t + u(len);
      w.push([t, end]);
      if (load.boundedFreezes) t = end;
    }
    return w;
  };
  const freezes = windows(load.freezesPerS, load.freeze);
  const overlapsFreeze = ([a, b]: [number, number]): boolean => freezes.some(([c, d]) => a < d && c < b);
  const peerStalls = windows(load.peerStallsPerS, load.peerStall).filter((w) => !load.boundedFreezes || !overlapsFreeze(w));
  const after = (w: [number, number][], t: number): number => {
    for (const [a, b] of w) if (t >= a && t < b) t = b;
    return t;
  };
  const thaw = (t: number): number => after(freezes, t);
  const I = p.probeIntervalMs;
  const d = new FailureDetector(opts(p), ['gw']);
  const replies: { at: number; seq: number }[] = [];
  const res: SimResult = { falseDowns: 0, plainFalseDowns: 0, ownLateAfterDeath: 0 };
  const plain = { seq: 0, answered: true, missed: 0, up: true };
  let prev = 0;
  d.tick(0);
  for (let k = 1; prev < durationMs; k++) {
    const nominal = prev + I;
    const delay = load.alwaysLate ? u([50, 300]) : r() < load.ownStallP ? u(load.ownStall) : u([0, 1]);
    const actual = thaw(nominal + delay);
    replies.sort((a, b) => a.at - b.at);
    while (replies.length && (replies[0]?.at ?? Infinity) <= actual) {
      const x = replies.shift();
      if (!x) break;
      const read = x.at >= nominal ? actual : Math.min(actual, thaw(x.at));
      d.reply('gw', read);
      if (x.seq === plain.seq && !plain.answered) {
        plain.answered = true;
        plain.missed = 0;
        plain.up = true;
      }
    }
    const v = d.tick(actual, nominal);
    if (deathAt !== undefined && actual > deathAt) res.ownLateAfterDeath += v.latenessMs;
    if (v.down.includes('gw')) {
      if (deathAt === undefined || actual < deathAt) res.falseDowns += 1;
      else if (res.detectedAt === undefined) res.detectedAt = actual;
    }
    if (!plain.answered && ++plain.missed >= p.misses && plain.up) {
      plain.up = false;
      if (deathAt === undefined || actual < deathAt) res.plainFalseDowns += 1;
    }
    if (res.detectedAt !== undefined) break;
    plain.seq = k;
    plain.answered = false;
    const arrive = actual + 0.05;
    if (deathAt === undefined || arrive < deathAt) {
      const handled = thaw(after(peerStalls, arrive) + u([0, 2]));
      replies.push({ at: handled + 0.05, seq: k });
    }
    prev = actual;
  }
  return res;
}

const loaded = (p: FailoverProfile): Load => ({
  ownStallP: 0.2, ownStall: [50, 300], freezesPerS: 2, freeze: [50, 300],
  // The peer alone stalled for 0.8-1.6 × the quiet detection time: long enough to fool a plain miss counter, well
  // within the maximum (with a host freeze on top it may be silent for longer; a silence beyond the maximum is a
  // death by definition).
  peerStallsPerS: 1, peerStall: [0.8 * p.minDetectionMs, 1.6 * p.minDetectionMs],
});

describe('FailureDetector on a simulated loaded scheduler (ticks delayed by 50-300 ms at random)', () => {
  for (const p of [PROFILES.default, PROFILES.fast]) {
    it(`${p.name}: 0 false deaths in 20 × 60 s, where the plain miss counter calls the live peer dead`, () => {
      let falseDowns = 0;
      let plain = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const s = simulate(p, loaded(p), seed, 60_000);
        falseDowns += s.falseDowns;
        plain += s.plainFalseDowns;
      }
      expect(falseDowns).toBe(0);
      // The control: the same event stream fools the detector this one replaces, so the simulation can tell.
      expect(plain).toBeGreaterThan(20);
    });

    it(`${p.name}: vCPU freezes of ~100 ms every few seconds (the project VM under stress): at most the first one per run convicts`, () => {
      // What the host did in issue #12's \`steady\` runs: a SCHED_FIFO 99 sleeper pinned to one CPU saw 99-100 ms gaps
      // every 1-10 s. Mostly one vCPU at a time (the peer alone, or the prober alone), now and then both.
      const vcpu: Load = {
        ownStallP: (0.2 * p.probeIntervalMs) / 1000, ownStall: [60, 100], freezesPerS: 0.05, freeze: [90, 100],
        peerStallsPerS: 0.2, peerStall: [90, 100], boundedFreezes: true,
      };
      let falseDowns = 0;
      for (let seed = 1; seed <= 20; seed++) falseDowns += Math.max(0, simulate(p, vcpu, seed, 60_000).falseDowns - 1);
      expect(falseDowns).toBe(0);
    });

    it(`${p.name}: 0 false deaths when every tick is 50-300 ms late`, () => {
      let falseDowns = 0;
      for (let seed = 1; seed <= 10; seed++) falseDowns += simulate(p, { ...loaded(p), alwaysLate: true }, seed, 60_000).falseDowns;
      expect(falseDowns).toBe(0);
    });

    it(`${p.name}: a real death under the same load is found within the maximum detection time plus the prober's own stalls`, () => {
      for (let seed = 1; seed <= 30; seed++) {
        const deathAt = 5_000 + ((seed * 7919) % 50_000);
        for (const load of [loaded(p), { ...loaded(p), alwaysLate: true }]) {
          const s = simulate(p, load, seed, 70_000, deathAt);
          expect(s.falseDowns).toBe(0);
          expect(s.detectedAt).toBeDefined();
          const ms = (s.detectedAt ?? Infinity) - deathAt;
          // The verdict may need more on-time rounds after the silence crossed the threshold (late ones count no miss).
          expect(ms).toBeLessThanOrEqual(p.maxDetectionMs + s.ownLateAfterDeath + (p.misses + 1) * p.probeIntervalMs);
          expect(ms).toBeGreaterThanOrEqual(p.minDetectionMs - p.probeIntervalMs);
        }
      }
    });

    it(`${p.name}: on a quiet scheduler a death is found as fast as before (misses × interval, + up to 2 intervals)`, () => {
      const quiet: Load = { ownStallP: 0, ownStall: [0, 0], freezesPerS: 0, freeze: [0, 0], peerStallsPerS: 0, peerStall: [0, 0] };
      for (let seed = 1; seed <= 10; seed++) {
        const deathAt = 3_000 + seed * 37;
        const s = simulate(p, quiet, seed, 10_000, deathAt);
        const ms = (s.detectedAt ?? Infinity) - deathAt;
        expect(ms).toBeGreaterThanOrEqual(p.minDetectionMs - p.probeIntervalMs);
        expect(ms).toBeLessThanOrEqual(p.minDetectionMs + 2 * p.probeIntervalMs);
      }
    });
  }
});
