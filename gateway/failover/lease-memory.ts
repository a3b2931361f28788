import type { LeaseRecord, LeaseStore } from './lease-store.js';

/**
 * In-memory lease store with an injected clock: the reference model for tests and the simulation. Same rules
 * as the Redis store (lease-redis.ts); both pass lease-store.conformance.ts.
 */
export class MemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<string, { holder: string; epoch: number; expiresAt: number }>();
  private readonly epochs = new Map<string, number>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  private live(key: string): { holder: string; epoch: number; expiresAt: number } | undefined {
    const l = this.leases.get(key);
    if (l && l.expiresAt > this.clock()) return l;
    if (l) this.leases.delete(key);
    return undefined;
  }

  acquire(key: string, holder: string, ttlMs: number): Promise<{ epoch: number } | false> {
    if (this.live(key)) return Promise.resolve(false);
    const epoch = (this.epochs.get(key) ?? 0) + 1;
    this.epochs.set(key, epoch);
    this.leases.set(key, { holder, epoch, expiresAt: this.clock() + ttlMs });
    return Promise.resolve({ epoch });
  }

  renew(key: string, holder: string, epoch: number, ttlMs: number): Promise<boolean> {
    const l = this.live(key);
    if (!l || l.holder !== holder || l.epoch !== epoch) return Promise.resolve(false);
    l.expiresAt = this.clock() + ttlMs;
    return Promise.resolve(true);
  }

  release(key: string, holder: string, epoch: number): Promise<boolean> {
    const l = this.live(key);
    if (!l || l.holder !== holder || l.epoch !== epoch) return Promise.resolve(false);
    this.leases.delete(key);
    return Promise.resolve(true);
  }

  read(key: string): Promise<LeaseRecord | null> {
    const l = this.live(key);
    return Promise.resolve(l ? { holder: l.holder, epoch: l.epoch, remainingMs: l.expiresAt - this.clock() } : null);
  }
}
