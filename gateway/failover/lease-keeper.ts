import type { LeaseStore } from './lease-store.js';

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

  constructor(
    readonly ttlMs: number,
    readonly safetyMarginMs: number,
  ) {}

  granted(sentAt: number, epoch: number): void {
    if (this.epoch !== epoch) this.validUntil = Number.NEGATIVE_INFINITY;
    this.epoch = epoch;
    this.validUntil = Math.max(this.validUntil, sentAt + this.ttlMs - this.safetyMarginMs);
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

export type LeaseStep = 'acquired' | 'renewed' | 'taken' | 'lost' | 'idle' | 'released' | 'store-error';

/**
 * Drives a `LeaseHold` against a `LeaseStore`: `step(true)` acquires or renews, `stepDown(drop)` first drops
 * whatever the lease protects and only then releases it, so a successor can never overlap. A store error leaves
 * the hold as it is: it simply runs out at `validUntil` unless a later renewal succeeds.
 */
export class LeaseKeeper {
  readonly hold: LeaseHold;

  constructor(
    private readonly store: LeaseStore,
    readonly key: string,
    readonly holder: string,
    timing: { leaseTtlMs: number; safetyMarginMs: number },
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.hold = new LeaseHold(timing.leaseTtlMs, timing.safetyMarginMs);
  }

  async step(wantActive: boolean): Promise<LeaseStep> {
    // Not wanting the lease is handled by stepDown (drop first, then release); nothing to do here.
    if (!wantActive) return 'idle';
    const sentAt = this.clock();
    try {
      if (this.hold.epoch !== undefined) {
        const ok = await this.store.renew(this.key, this.holder, this.hold.epoch, this.hold.ttlMs);
        if (ok) {
          this.hold.granted(sentAt, this.hold.epoch);
          return 'renewed';
        }
        this.hold.lost();
        return 'lost';
      }
      const r = await this.store.acquire(this.key, this.holder, this.hold.ttlMs);
      if (r === false) return 'taken';
      this.hold.granted(sentAt, r.epoch);
      return 'acquired';
    } catch {
      return 'store-error';
    }
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
