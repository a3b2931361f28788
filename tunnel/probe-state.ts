/**
 * Pure up/down state machine for one probed target (no sockets, no clock: the caller feeds results).
 * Starts `unknown`; `rise` consecutive replies make it `up`, `misses` consecutive losses make it `down`.
 * Loss is over a sliding window of the last `window` probes.
 */
export type ProbeHealth = 'unknown' | 'up' | 'down';

export interface ProbeStateOptions {
  /** Consecutive misses that mark a target down (default 3). */
  readonly misses: number;
  /** Consecutive replies that mark a target up (default 1). */
  readonly rise: number;
  /** Probes in the loss window (default 100). */
  readonly window: number;
}

export interface ProbeTransition {
  readonly from: ProbeHealth;
  readonly to: ProbeHealth;
}

export class ProbeStateMachine {
  private state: ProbeHealth = 'unknown';
  private consecutiveMisses = 0;
  private consecutiveReplies = 0;
  private readonly results: boolean[] = [];
  private lastRttMs: number | undefined;
  private rttEwmaMs: number | undefined;

  constructor(readonly opts: ProbeStateOptions = { misses: 3, rise: 1, window: 100 }) {
    if (!Number.isInteger(opts.misses) || opts.misses < 1) throw new RangeError('misses must be an integer >= 1');
    if (!Number.isInteger(opts.rise) || opts.rise < 1) throw new RangeError('rise must be an integer >= 1');
    if (!Number.isInteger(opts.window) || opts.window < 1) throw new RangeError('window must be an integer >= 1');
  }

  get health(): ProbeHealth {
    return this.state;
  }

  private record(ok: boolean): void {
    this.results.push(ok);
    if (this.results.length > this.opts.window) this.results.shift();
  }

  /** A reply arrived for a probe; returns the transition it caused, if any. */
  reply(rttMs: number): ProbeTransition | undefined {
    this.record(true);
    this.lastRttMs = rttMs;
    this.rttEwmaMs = this.rttEwmaMs === undefined ? rttMs : this.rttEwmaMs * 0.8 + rttMs * 0.2;
    this.consecutiveMisses = 0;
    this.consecutiveReplies += 1;
    if (this.state !== 'up' && this.consecutiveReplies >= this.opts.rise) return this.move('up');
    return undefined;
  }

  /** A probe went unanswered within its timeout. */
  miss(): ProbeTransition | undefined {
    this.record(false);
    this.consecutiveReplies = 0;
    this.consecutiveMisses += 1;
    if (this.state !== 'down' && this.consecutiveMisses >= this.opts.misses) return this.move('down');
    return undefined;
  }

  private move(to: ProbeHealth): ProbeTransition {
    const t = { from: this.state, to };
    this.state = to;
    return t;
  }

  stats(): { health: ProbeHealth; sent: number; lost: number; loss: number; lastRttMs?: number; avgRttMs?: number; consecutiveMisses: number } {
    const lost = this.results.filter((r) => !r).length;
    return {
      health: this.state,
      sent: this.results.length,
      lost,
      loss: this.results.length ? lost / this.results.length : 0,
      ...(this.lastRttMs !== undefined ? { lastRttMs: this.lastRttMs } : {}),
      ...(this.rttEwmaMs !== undefined ? { avgRttMs: this.rttEwmaMs } : {}),
      consecutiveMisses: this.consecutiveMisses,
    };
  }
}
