/**
 * Probe and lease timing in one place. Every failover number Strait promises follows from these values:
 * a dead gateway is noticed after `probeIntervalMs × misses` (+ up to one interval of phase), and an egress IP
 * moves once the old holder's lease has run out (`leaseTtlMs` after its last renewal, at worst).
 *
 * The lease timings must satisfy `renewIntervalMs × 2 + safetyMarginMs < leaseTtlMs`, so that one lost or slow
 * renewal does not make the holder drop its egress IPs; `validateProfile` checks that.
 */
export interface FailoverProfile {
  readonly name: string;
  /**
   * The data-plane outage this profile promises on a quiet machine (p99 over many trials, `npm run bench:failover`);
   * under `--stress cpu=8` the promise is at most twice this. The demo prints it next to what it measured.
   */
  readonly outageGoalMs: number;
  /** How often nodes and gateways send a UDP probe to each gateway candidate. */
  readonly probeIntervalMs: number;
  /** At least this many probe rounds, each on time and unanswered, before a candidate counts as down. */
  readonly misses: number;
  /**
   * The failure detector (failure-detector.ts) declares a candidate dead after a silence between these two bounds:
   * the minimum on a quiet host (`probeIntervalMs × misses`, the old plain counter's speed), growing with the
   * jitter its answers actually showed, never beyond the maximum. The prober's own stalls are not counted.
   */
  readonly minDetectionMs: number;
  readonly maxDetectionMs: number;
  /** Lease time to live as stored by the lease store (Redis PX). */
  readonly leaseTtlMs: number;
  /**
   * The most a holder may stretch its lease to when its own renewals run late (lease-keeper.ts
   * `adaptiveLeaseTtlMs`): on a quiet host it asks for `leaseTtlMs`; a dead holder's lease runs out at worst this
   * long after its last renewal.
   */
  readonly maxLeaseTtlMs: number;
  /** How often the active gateway renews its lease. */
  readonly renewIntervalMs: number;
  /**
   * The holder stops serving (drops its egress IPs, and the kernel fence expires) at
   * `renewal sent + leaseTtlMs − safetyMarginMs`, strictly before the store can give the lease to anyone else.
   * Covers clock-rate differences and the time the drop itself takes.
   */
  readonly safetyMarginMs: number;
  /** How often a standby that believes it should be active retries acquiring a held lease. */
  readonly acquireRetryMs: number;
  /** A recovered candidate must stay healthy this long before it may become active again (no flapping). */
  readonly holdDownMs: number;
  /**
   * SCHED_RR priority for the agents (gateway and node-steer), 0 = normal scheduling. Timings of a few ms only hold
   * on a busy host if the agent runs when its timer fires (see realtime-priority.ts).
   */
  readonly realtimePriority: number;
}

export const PROFILES = {
  /**
   * Every number follows from the goal, p99 outage ≤ 200 ms quiet and ≤ 400 ms (2×) under `--stress cpu=8`, and
   * from what the bench measured (docs/gateways.md, "Where the time went" under "Failure detection under load"):
   *
   * - Routes move when the node's detector convicts: `minDetectionMs` 90 = 30 ms × 3 on-time misses (at most one
   *   interval of phase on top), then one line to the node's `ip -batch` session (p50 3 ms).
   * - The egress IP moves when the old lease ends (SIGKILL, SIGSTOP, node death, partition: the holder cannot
   *   release): ≤ `leaseTtlMs` after its last renewal, i.e. 110-150 ms after the fault, + ≤ 15 ms acquire retry +
   *   the takeover's fence transaction and address (9-22 ms measured) ≤ 190 ms. The old 200 ms lease put that at
   *   215-240 ms: above the goal by construction.
   * - `renewIntervalMs` 40 and `safetyMarginMs` 30 leave a holder 80 ms of own stall (ttl − margin − renew) before
   *   its fence lapses, before the adaptive TTL has learnt anything; the kernel enforces the deadline from when the
   *   renewal was sent, so the margin covers only clock rate and the drop (fast lives with 10). Kept at 40 (not
   *   30): the quorum store's per-store timeout is half of it.
   * - The ceilings (`maxDetectionMs`, `maxLeaseTtlMs` 360) are the stressed goal minus the retry and the
   *   takeover: however much jitter widened them, a dead gateway is replaced within 400 ms. A stall longer than
   *   that is replaced by definition; SCHED_RR (below) is what keeps the agents' own stalls far below it.
   */
  default: {
    name: 'default',
    outageGoalMs: 200,
    probeIntervalMs: 30,
    misses: 3,
    minDetectionMs: 90,
    maxDetectionMs: 360,
    leaseTtlMs: 150,
    maxLeaseTtlMs: 360,
    renewIntervalMs: 40,
    safetyMarginMs: 30,
    acquireRetryMs: 15,
    holdDownMs: 3000,
    // SCHED_RR as for fast: under stress-ng --cpu 8 (ten runnable tasks on two cores) a CFS agent waits tens of
    // ms behind the hogs for each timer, and every such wait is a stall the detector and the lease must then cover.
    realtimePriority: 10,
  },
  /**
   * 10 ms × 3 misses: routes move ~40-60 ms after a gateway dies. Lease 50 ms, renewed every 10 ms: a holder that
   * dies stops serving ≤ 40 ms after its last renewal and the standby can acquire ≤ 50 ms after it, which is what
   * bounds the egress-IP move (the fence must outlive a renewal interval plus a stall, so it cannot shrink much
   * further). Target p99 ≤ 100 ms. Costs more probe traffic and CPU (100 renewals/s, each one Redis call and one
   * line to the fence's nft session), and a renewal stalled for > 30 ms (a very loaded host) drops egress IPs
   * briefly. (It was 60/15: the egress move after link down or a partition, where the holder cannot release, sat
   * at 70-110 ms, the last fault kinds above 100; the 10 ms margin is enough because the fence is counted from
   * when the renewal was sent and enforced by the kernel, see lease-keeper.ts.)
   */
  fast: {
    name: 'fast',
    outageGoalMs: 60,
    probeIntervalMs: 10,
    misses: 3,
    minDetectionMs: 30,
    maxDetectionMs: 200,
    leaseTtlMs: 50,
    maxLeaseTtlMs: 200,
    renewIntervalMs: 10,
    safetyMarginMs: 10,
    acquireRetryMs: 5,
    holdDownMs: 2000,
    // 10 ms probes and a 40 ms fence window do not survive CFS delays on a loaded host (seen: 50+ ms stalls at
    // load 5-11 on 2 cores, each one a lapsed fence or a false "gateway down").
    realtimePriority: 10,
  },
} as const satisfies Record<string, FailoverProfile>;

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** Problems with a profile's numbers, empty when it is sound. */
export function validateProfile(p: FailoverProfile): string[] {
  const errs: string[] = [];
  const positive: (keyof FailoverProfile)[] = ['probeIntervalMs', 'misses', 'leaseTtlMs', 'renewIntervalMs', 'acquireRetryMs'];
  for (const k of positive) if (!(Number(p[k]) > 0)) errs.push(`${k} must be > 0`);
  if (!(p.maxLeaseTtlMs >= p.leaseTtlMs)) errs.push('maxLeaseTtlMs must be >= leaseTtlMs');
  if (!(p.minDetectionMs >= p.probeIntervalMs) || !(p.maxDetectionMs >= p.minDetectionMs)) {
    errs.push('need probeIntervalMs <= minDetectionMs <= maxDetectionMs');
  }
  if (p.safetyMarginMs < 0 || p.holdDownMs < 0) errs.push('safetyMarginMs and holdDownMs must be >= 0');
  if (!Number.isInteger(p.realtimePriority) || p.realtimePriority < 0 || p.realtimePriority > 99) errs.push('realtimePriority must be an integer 0-99');
  if (p.renewIntervalMs * 2 + p.safetyMarginMs >= p.leaseTtlMs) {
    errs.push('renewIntervalMs * 2 + safetyMarginMs must be < leaseTtlMs (one slow renewal must not drop egress IPs)');
  }
  return errs;
}

/**
 * Expected detection time for a dead gateway under this profile, before acting: [best, worst] in ms on a quiet
 * host (the minimum plus one interval of phase). Under load the detector may wait up to `maxDetectionMs` (plus its
 * own scheduling stalls).
 */
export function detectionWindowMs(p: FailoverProfile): [number, number] {
  return [p.minDetectionMs, p.minDetectionMs + p.probeIntervalMs];
}
