import { describe, it, expect } from '@jest/globals';
import type { LeaseStore } from './lease-store.js';

/**
 * One suite for every LeaseStore (memory, Redis). `sleep` lets the suite wait out a TTL on a real or fake clock.
 * The short leases below are 300 ms, not tens: a quorum acquire grants, then commits, and a test process starved for
 * longer than the lease between the two (npm test runs beside labs whose agents are realtime) loses its own grant.
 */
const SHORT_MS = 300;
export function leaseStoreConformance(name: string, make: () => { store: LeaseStore; sleep: (ms: number) => Promise<void> }): void {
  describe(`LeaseStore conformance: ${name}`, () => {
    let n = 0;
    const key = (): string => `k${++n}-${Math.random().toString(36).slice(2, 8)}`;

    it('grants a free lease and refuses a held one with false', async () => {
      const { store } = make();
      const k = key();
      const a = await store.acquire(k, 'gw1', 10_000);
      expect(a).not.toBe(false);
      expect(await store.acquire(k, 'gw2', 10_000)).toBe(false);
      expect(await store.acquire(k, 'gw1', 10_000)).toBe(false); // even the holder: it renews instead
      const r = await store.read(k);
      expect(r?.holder).toBe('gw1');
      expect(r?.epoch).toBe(a === false ? -1 : a.epoch);
    });

    it('renews only for the holder with the current epoch', async () => {
      const { store } = make();
      const k = key();
      const a = await store.acquire(k, 'gw1', 10_000);
      if (a === false) throw new Error('not granted');
      expect(await store.renew(k, 'gw1', a.epoch, 10_000)).toBe(true);
      expect(await store.renew(k, 'gw2', a.epoch, 10_000)).toBe(false);
      expect(await store.renew(k, 'gw1', a.epoch + 1, 10_000)).toBe(false);
    });

    it('epochs grow across release and expiry', async () => {
      const { store, sleep } = make();
      const k = key();
      const a = await store.acquire(k, 'gw1', 10_000);
      if (a === false) throw new Error('not granted');
      expect(await store.release(k, 'gw1', a.epoch)).toBe(true);
      expect(await store.release(k, 'gw1', a.epoch)).toBe(false); // twice is fine, just false
      const b = await store.acquire(k, 'gw2', SHORT_MS);
      if (b === false) throw new Error('not granted');
      expect(b.epoch).toBeGreaterThan(a.epoch);
      await sleep(SHORT_MS + 100);
      expect(await store.read(k)).toBeNull();
      expect(await store.renew(k, 'gw2', b.epoch, SHORT_MS)).toBe(false); // expired cannot be renewed
      const c = await store.acquire(k, 'gw1', 10_000);
      if (c === false) throw new Error('not granted');
      expect(c.epoch).toBeGreaterThan(b.epoch);
    });

    it('a stale holder cannot release the new holder\'s lease', async () => {
      const { store, sleep } = make();
      const k = key();
      const a = await store.acquire(k, 'gw1', SHORT_MS);
      if (a === false) throw new Error('not granted');
      await sleep(SHORT_MS + 100);
      const b = await store.acquire(k, 'gw1', 10_000); // same name, new epoch (e.g. restarted agent)
      if (b === false) throw new Error('not granted');
      expect(await store.release(k, 'gw1', a.epoch)).toBe(false);
      expect((await store.read(k))?.epoch).toBe(b.epoch);
    });
  });
}
