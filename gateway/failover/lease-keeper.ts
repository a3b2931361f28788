import type { LeaseStore } from './lease-store.js';
import { DEFAULT_JITTER_MEMORY_MS, stallMemory, type StallMemory } from './recent-max.js';

/**
 * What a holder knows about its own lease, pure. The rule that keeps two gateways from serving one egress IP:
 * a holder serves only until `sentAt + ttl − margin`, where `sentAt` is when it SENT the acquire/renew that the
 * store granted. The store started its `ttl` no earlier than `sentAt`, so the holder always stops strictly before
 * the store can hand the lease to anyone else; a successor starts only after receiving its own grant.
 */
export class LeaseHold {
  epoch: number | undefined;
  /** Serve while `now < validUntil` (the kernel fence on the gateway uses the same deadline). */
  validUntil = Number.NEGATIVE_INFINITY;
  /**
   * When the latest granted request was sent. Not necessarily the one behind `validUntil`: when the TTL asked for
   * shrinks, an older grant may still reach further. The fence's age is counted from this one (fence-refresh.ts):
   * how long after its send the next refresh was in force is what the TTL must cover.
   */
  grantSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly ttlMs: number,
    readonly safetyMarginMs: number,
  ) {}

  /** `ttlMs`: the TTL the granted request asked the store for (default: the base TTL). */
  granted(sentAt: number, epoch: number, ttlMs: number = this.ttlMs): void {
    if (this.epoch !== epoch) this.validUntil = Number.NEGATIVE_INFINITY;
    this.epoch = epoch;
    this.validUntil = Math.max(this.validUntil, sentAt + ttlMs - this.safetyMarginMs);
    this.grantSentAt = sentAt;
  }

  /** The store said no: the lease is gone (expired and maybe taken). Stop at once. */
  lost(): void {
    this.epoch = undefined;
    this.validUntil = Number.NEGATIVE_INFINITY;
  }

  serving(now: number): boolean {
    return this.epoch !== undefined && now < this.validUntil;
  }

  remainingMs(now: number): number {
    return this.serving(now) ? this.validUntil - now : 0;
  }
}

export type LeaseStep = 'acquired' | 'reacquired' | 'renewed' | 'taken' | 'lost' | 'idle' | 'released' | 'store-error';

/**
 * The TTL a holder asks the store for, pure. The fence must outlive one renewal interval plus the longest stall
 * this holder has seen lately (its own timer lateness plus the store's answer time): a holder that is merely slow
 * must not lose its fence while nothing is wrong. On a quiet host that is the profile's `leaseTtlMs` (so a dead
 * holder is replaced as fast as before); under load it grows with the stalls, never beyond `maxLeaseTtlMs` (so a
 * dead holder is replaced at worst that long after its last renewal). Safety does not depend on it: the holder
 * counts the TTL it asked for from when it sent the request.
 */
export function adaptiveLeaseTtlMs(
  p: { leaseTtlMs: number; maxLeaseTtlMs: number; renewIntervalMs: number; safetyMarginMs: number },
  stallMs: number,
): number {
  const need = p.safetyMarginMs + p.renewIntervalMs + 1.5 * Math.max(0, stallMs);
  return Math.ceil(Math.min(Math.max(p.leaseTtlMs, p.maxLeaseTtlMs), Math.max(p.leaseTtlMs, need)));
}

/**
 * Drives a `LeaseHold` against a `LeaseStore`: `step(true)` acquires or renews, `stepDown(drop)` first drops
 * whatever the lease protects and only then releases it, so a successor can never overlap. A store error leaves
 * the hold as it is: it simply runs out at `validUntil` unless a later renewal succeeds.
 */
export class LeaseKeeper {
  readonly hold: LeaseHold;
  /** When the last acquire/renew was sent (the renewal cadence is counted from it, not from its answer). */
  lastSentAt = Number.NEGATIVE_INFINITY;
  /**
   * After a 'taken': how much longer the other holder's lease runs as the store sees it (a majority, for a quorum
   * store), read right after the refusal; undefined when unknown. A standby that waits for a dead holder's lease
   * retries when it runs out, not on its retry grid (see GatewayAgent.tick).
   */
  heldForMs: number | undefined;
  /** Store answer times within the memory. */
  private readonly rtts: StallMemory;
  /**
   * An answer this slow is an outage of the store or of this process (the first connect, a store restart, a
   * SIGSTOP), not jitter: the lease it answered for had run out whatever TTL was asked, and remembered for the
   * memory it would stretch every lease to the ceiling. Default: `maxLeaseTtlMs` when given.
   */
  private readonly rttOutageMs: number;

  constructor(
    private readonly store: LeaseStore,
    readonly key: string,
    readonly holder: string,
    timing: { leaseTtlMs: number; safetyMarginMs: number; maxLeaseTtlMs?: number },
    private readonly clock: () => number = () => performance.now(),
    memory: number | StallMemory = DEFAULT_JITTER_MEMORY_MS,
  ) {
    this.hold = new LeaseHold(timing.leaseTtlMs, timing.safetyMarginMs);
    this.rtts = stallMemory(memory);
    this.rttOutageMs = timing.maxLeaseTtlMs ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Acquires or renews with `ttlMs` (default: the base TTL). A renewal refused because the lease ran out (this
   * holder was late, nobody else took it) is followed at once by an acquire: the holder keeps the role with a new
   * epoch instead of dropping and coming back a tick later. 'lost' only when someone else holds it now.
   */
  async step(wantActive: boolean, ttlMs: number = this.hold.ttlMs): Promise<LeaseStep> {
    // Not wanting the lease is handled by stepDown (drop first, then release); nothing to do here.
    if (!wantActive) return 'idle';
    let sentAt = this.clock();
    this.lastSentAt = sentAt;
    try {
      if (this.hold.epoch !== undefined) {
        const ok = await this.store.renew(this.key, this.holder, this.hold.epoch, ttlMs);
        this.rtt(sentAt);
        if (ok) {
          this.hold.granted(sentAt, this.hold.epoch, ttlMs);
          return 'renewed';
        }
        this.hold.lost();
        sentAt = this.clock();
        const again = await this.store.acquire(this.key, this.holder, ttlMs);
        this.rtt(sentAt);
        if (again === false) return 'lost';
        this.hold.granted(sentAt, again.epoch, ttlMs);
        return 'reacquired';
      }
      const r = await this.store.acquire(this.key, this.holder, ttlMs);
      this.rtt(sentAt);
      if (r === false) {
        this.heldForMs = await this.store.read(this.key).then(
          (l) => (l !== null && l.holder !== this.holder ? Math.max(0, l.remainingMs) : undefined),
          () => undefined,
        );
        return 'taken';
      }
      this.heldForMs = undefined;
      this.hold.granted(sentAt, r.epoch, ttlMs);
      return 'acquired';
    } catch {
      return 'store-error';
    }
  }

  private rtt(sentAt: number): void {
    const now = this.clock();
    if (now - sentAt < this.rttOutageMs) this.rtts.push(now, now - sentAt);
  }

  /** The slowest store answer within the memory, ms. */
  maxRttMs(): number {
    return this.rtts.max(this.clock());
  }

  /** Drop first (egress IPs, fence), then release the lease so the successor need not wait for expiry. */
  async stepDown(drop: () => Promise<void>): Promise<LeaseStep> {
    const epoch = this.hold.epoch;
    this.hold.lost();
    await drop();
    if (epoch === undefined) return 'idle';
    try {
      await this.store.release(this.key, this.holder, epoch);
    } catch {
      return 'store-error';
    }
    return 'released';
  }

  serving(): boolean {
    return this.hold.serving(this.clock());
  }

  remainingMs(): number {
    return this.hold.remainingMs(this.clock());
  }
}
