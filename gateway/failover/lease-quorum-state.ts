import type { LeaseRecord } from './lease-store.js';
import type { MemberAcquire } from './lease-quorum.js';

/**
 * What one quorum store holds and how it answers, pure and synchronous with an injected clock: the same rules as
 * the Lua scripts of lease-quorum-redis.ts (both run the QuorumLeaseStore conformance suite). The fake store
 * (lease-quorum-fake.ts) and the fencing simulation (lease-fence.sim.test.ts) are built on it.
 *
 * `restartGuard: false` builds the broken variant the simulation must catch: a store that restarted empty grants
 * at once.
 */
export class QuorumStoreState {
  private readonly leases = new Map<string, { holder: string; epoch: number; expiresAt: number }>();
  private readonly epochs = new Map<string, number>();
  private booted = false;
  private guardUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: () => number,
    private readonly restartGuard = true,
  ) {}

  /** The process restarted without its data: every lease, epoch and the boot marker are gone. */
  wipe(): void {
    this.leases.clear();
    this.epochs.clear();
    this.booted = false;
    this.guardUntil = Number.NEGATIVE_INFINITY;
  }

  /** True while the store must not grant: it just found its boot marker missing, or is inside that guard. */
  private guarded(guardMs: number): boolean {
    if (!this.restartGuard) return false;
    if (!this.booted) {
      this.booted = true;
      this.guardUntil = this.clock() + guardMs;
      return true;
    }
    return this.clock() < this.guardUntil;
  }

  private live(key: string): { holder: string; epoch: number; expiresAt: number } | undefined {
    const l = this.leases.get(key);
    if (l && l.expiresAt > this.clock()) return l;
    if (l) this.leases.delete(key);
    return undefined;
  }

  acquire(key: string, holder: string, ttlMs: number, guardMs: number): MemberAcquire {
    const cur = this.epochs.get(key) ?? 0;
    if (this.guarded(guardMs)) return { result: 'guarded', epoch: cur };
    if (this.live(key)) return { result: 'held', epoch: cur };
    const e = cur + 1;
    this.epochs.set(key, e);
    this.leases.set(key, { holder, epoch: e, expiresAt: this.clock() + ttlMs });
    return { result: 'granted', epoch: e };
  }

  commit(key: string, holder: string, storeEpoch: number, epoch: number, ttlMs: number): boolean {
    const l = this.live(key);
    if (!l || l.holder !== holder || l.epoch !== storeEpoch) return false;
    this.leases.set(key, { holder, epoch, expiresAt: this.clock() + ttlMs });
    if (epoch > (this.epochs.get(key) ?? 0)) this.epochs.set(key, epoch);
    return true;
  }

  renew(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): number {
    if (this.guarded(guardMs)) return -1;
    const l = this.live(key);
    if (l) {
      if (l.holder !== holder || l.epoch !== epoch) return 0;
      l.expiresAt = this.clock() + ttlMs;
      return 1;
    }
    // Free here: join only a lease this store never saw (its epoch is above everything it granted). One that ran
    // out here is reported (2) and left alone: the quorum rejoins it only if a majority still holds it.
    const seen = this.epochs.get(key) ?? 0;
    if (seen === epoch) return 2;
    if (seen > epoch) return 0;
    this.epochs.set(key, epoch);
    this.leases.set(key, { holder, epoch, expiresAt: this.clock() + ttlMs });
    return 1;
  }

  rejoin(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): boolean {
    if (this.guarded(guardMs)) return false;
    const l = this.live(key);
    if (l && (l.holder !== holder || l.epoch !== epoch)) return false;
    if ((this.epochs.get(key) ?? 0) > epoch) return false;
    this.epochs.set(key, epoch);
    this.leases.set(key, { holder, epoch, expiresAt: this.clock() + ttlMs });
    return true;
  }

  release(key: string, holder: string, epoch: number): boolean {
    const l = this.live(key);
    if (!l || l.holder !== holder || l.epoch !== epoch) return false;
    this.leases.delete(key);
    return true;
  }

  read(key: string): LeaseRecord | null {
    const l = this.live(key);
    return l ? { holder: l.holder, epoch: l.epoch, remainingMs: l.expiresAt - this.clock() } : null;
  }
}
