/**
 * Gateway election, pure: who should be active given what the probes say. Nodes and gateways run the same
 * function over their own probe view, so in steady state they agree; the lease (lease-keeper.ts) makes sure that
 * even when views differ for a moment, only one gateway ever serves an egress IP.
 */
export type GatewayMode = 'active-standby' | 'active-active';

export interface Candidate {
  readonly name: string;
  /** Higher wins. */
  readonly priority: number;
}

export interface CandidateHealth {
  readonly healthy: boolean;
  /** When the current state (healthy or not) began, in ms on the caller's monotonic clock. */
  readonly since: number;
  /** True once this candidate has been seen down: coming back from down is a recovery and is held down. */
  readonly recovered: boolean;
}

export interface ElectionInput {
  readonly candidates: readonly Candidate[];
  readonly health: ReadonlyMap<string, CandidateHealth>;
  readonly now: number;
  readonly holdDownMs: number;
  readonly mode: GatewayMode;
}

/** Highest priority first, ties by name so every observer orders candidates the same way. */
export function rankCandidates(candidates: readonly Candidate[]): Candidate[] {
  return [...candidates].sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Healthy and not in hold-down. A candidate with no health entry yet is unknown, hence not healthy. */
function isEligible(h: CandidateHealth | undefined, now: number, holdDownMs: number): boolean {
  if (!h?.healthy) return false;
  return !h.recovered || now - h.since >= holdDownMs;
}

/**
 * The active gateways, best first: in active-standby mode at most one (the highest-priority eligible candidate),
 * in active-active mode every eligible candidate. A recovered candidate in hold-down is only used when no other
 * candidate is healthy: a flapping gateway must not pull traffic back, but a lone survivor is better than none.
 */
export function electActive(input: ElectionInput): string[] {
  const ranked = rankCandidates(input.candidates);
  let chosen = ranked.filter((c) => isEligible(input.health.get(c.name), input.now, input.holdDownMs));
  if (chosen.length === 0) chosen = ranked.filter((c) => input.health.get(c.name)?.healthy === true);
  const names = chosen.map((c) => c.name);
  return input.mode === 'active-active' ? names : names.slice(0, 1);
}

/**
 * The lease holder among the candidates that answer: the one whose probe replies claim the highest lease epoch
 * (two claim during a handover, or while a stalled old holder has not noticed its loss). Undefined when no
 * answering candidate claims. Observers follow it ahead of `electActive` (docs/gateways.md, "Following the lease
 * holder"); the election decides only while nobody answering holds the lease.
 */
export function leaseClaimant(names: Iterable<string>, claims: ReadonlyMap<string, number>, answering: (name: string) => boolean): string | undefined {
  let best: { name: string; epoch: number } | undefined;
  for (const name of names) {
    const epoch = claims.get(name);
    if (epoch !== undefined && epoch > 0 && answering(name) && (!best || epoch > best.epoch)) best = { name, epoch };
  }
  return best?.name;
}

/**
 * Turns probe outcomes into `CandidateHealth`: down after `misses` consecutive unanswered probes, up again on
 * the first answer. Transitions are returned so callers act only on change. Also accepts up/down events from a
 * prober that counts misses itself (`markUp`/`markDown`).
 */
export class HealthTracker {
  private readonly state = new Map<string, { healthy: boolean; since: number; recovered: boolean; missed: number }>();

  constructor(private readonly misses: number) {}

  /** A probe to `name` was answered. Returns 'up' when this changes the state. */
  reply(name: string, now: number): 'up' | undefined {
    const s = this.state.get(name);
    if (s) s.missed = 0;
    return this.markUp(name, now);
  }

  /** A probe to `name` went unanswered within its interval. Returns 'down' when this changes the state. */
  miss(name: string, now: number): 'down' | undefined {
    const s = this.state.get(name) ?? { healthy: false, since: now, recovered: false, missed: 0 };
    this.state.set(name, s);
    s.missed += 1;
    // A candidate never seen up simply stays not healthy (no event); one that was up goes down and, when it
    // answers again, is a recovery subject to hold-down.
    if (s.missed >= this.misses && s.healthy) {
      s.healthy = false;
      s.since = now;
      s.recovered = true;
      return 'down';
    }
    return undefined;
  }

  /** Up. `comeback`: the caller knows this is a recovery even if it never saw the candidate up (held down). */
  markUp(name: string, now: number, comeback = false): 'up' | undefined {
    const s = this.state.get(name);
    if (s?.healthy) return undefined;
    this.state.set(name, { healthy: true, since: now, recovered: comeback || (s?.recovered ?? false), missed: 0 });
    return 'up';
  }

  /** Down. Only a candidate once seen healthy becomes a recovery when it comes back (startup races are not flaps). */
  markDown(name: string, now: number): 'down' | undefined {
    const s = this.state.get(name);
    if (s && !s.healthy) return undefined;
    this.state.set(name, { healthy: false, since: now, recovered: s?.healthy === true || s?.recovered === true, missed: s?.missed ?? 0 });
    return s?.healthy ? 'down' : undefined;
  }

  view(): ReadonlyMap<string, CandidateHealth> {
    const m = new Map<string, CandidateHealth>();
    for (const [k, v] of this.state) m.set(k, { healthy: v.healthy, since: v.since, recovered: v.recovered });
    return m;
  }
}
