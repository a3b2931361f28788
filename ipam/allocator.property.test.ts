import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../api/index.js';
import { IpamEngine } from './ipam-engine.js';
import type { IpamConfig } from './model.js';
import { stickyKey, type Owner } from './owner.js';
import { MemoryAllocationStore } from './stores/memory-store.js';
import { seededRandom } from '../testing/index.js';


const config: IpamConfig = {
  pools: [
    { name: 'v4', subnet: '10.50.0.0/24', gateway: '10.50.0.1', excludeIPs: ['10.50.0.100-10.50.0.120'], default: true, blockSize: 27 },
    { name: 'v6', subnet: 'fd50::/118', gateway: 'fd50::1', default: true, blockSize: 124 },
  ],
  reserved: [{ ips: ['10.50.1.7', 'fd50::77'] }],
};

describe('allocator property: random allocate/release never duplicates and never leaks', () => {
  it.each([[1, 100_000], [20261122, 20_000]])('seed %i, %i operations', async (seed, total) => {
    const random = seededRandom(seed);
    const t = { now: 0 };
    const store = new MemoryAllocationStore();
    const engine = new IpamEngine({ store, config, now: () => t.now });
    const OWNERS = 600;
    const owners: Owner[] = Array.from({ length: OWNERS }, (_, i) => ({
      containerId: `c${i}`,
      ifName: 'eth0',
      namespace: 'ns',
      podName: `p${i}`,
      ...(i % 10 === 0 ? { statefulSet: { name: 'db', ordinal: i } } : {}),
    }));
    const nodeOf = (i: number): string => `node-${i % 5}`;
    // Model: which owner holds which addresses; which address each StatefulSet ordinal is bound to.
    const held = new Map<number, string[]>();
    const holder = new Map<string, number>();
    const sticky = new Map<string, string[]>();
    let ops = 0;
    let exhausted = 0;

    const allocate = async (i: number): Promise<void> => {
      const owner = owners[i]!;
      try {
        const r = await engine.allocate(owner, { node: { name: nodeOf(i) } });
        const addrs = r.ips.map((ip) => ip.address.split('/')[0]!).sort();
        // Plain checks in the hot loop: jest matchers would dominate the run time.
        const fail = (why: string): never => {
          throw new Error(`${why} (seed ${seed}, op ${ops}, owner ${i}): ${addrs.join(',')}`);
        };
        if (addrs.length !== 2) fail('not dual stack');
        const before = held.get(i);
        if (before && before.join() !== addrs.join()) fail(`not idempotent, had ${before.join(',')}`);
        for (const a of addrs) {
          const h = holder.get(a);
          if (h !== undefined && h !== i) throw new Error(`duplicate: ${a} held by ${h} and given to ${i} (seed ${seed}, op ${ops})`);
          holder.set(a, i);
        }
        const key = stickyKey(owner);
        if (key) {
          const bound = sticky.get(key);
          if (bound && bound.join() !== addrs.join()) fail(`StatefulSet ordinal moved from ${bound.join(',')}`);
          sticky.set(key, addrs);
        }
        held.set(i, addrs);
      } catch (e) {
        if (!isStraitError(e, 'POOL_EXHAUSTED')) throw e;
        exhausted++;
        if (held.has(i)) throw new Error(`owner ${i} holds addresses but got POOL_EXHAUSTED`, { cause: e });
      }
    };
    const release = async (i: number): Promise<void> => {
      await engine.release(owners[i]!);
      const addrs = held.get(i) ?? [];
      held.delete(i);
      // StatefulSet addresses stay bound (parked) to their ordinal; everything else is free again.
      if (!owners[i]!.statefulSet) for (const a of addrs) holder.delete(a);
    };

    while (ops < total) {
      // A batch of distinct owners runs concurrently, like parallel CNI calls.
      const batch = new Set<number>();
      const size = 1 + Math.floor(random() * 8);
      while (batch.size < size) batch.add(Math.floor(random() * OWNERS));
      await Promise.all(
        [...batch].map((i) => {
          ops++;
          return random() < 0.55 ? allocate(i) : release(i);
        }),
      );
      if (random() < 0.01) {
        t.now += 1000;
        await engine.releaseEmptyBlocks(5000);
      }
    }

    // No leak: the store holds exactly the model's addresses (live + parked), and usage agrees.
    const records = await store.list();
    expect(records.map((r) => r.address).sort()).toEqual([...holder.keys()].sort());
    const usage = await engine.usage();
    const u4 = usage.find((u) => u.pool === 'v4')!;
    const u6 = usage.find((u) => u.pool === 'v6')!;
    expect(u4.used + u6.used).toBe(holder.size);
    expect(u4.free).toBe(u4.total - u4.used);
    // Release everything (and unpin StatefulSets): every address comes back.
    for (let i = 0; i < OWNERS; i++) await release(i);
    t.now += 10_000;
    await engine.collectGarbage({ statefulSets: [] }, 0);
    expect(await store.list()).toEqual([]);
    const after = await engine.usage();
    for (const u of after) expect(u.free).toBe(u.total);
    // A fresh engine over the same store agrees (the cache is not the truth).
    const fresh = await new IpamEngine({ store, config }).usage();
    expect(fresh.map((u) => u.used)).toEqual([0, 0]);
    expect(exhausted).toBeGreaterThan(0); // the pools are small on purpose, so exhaustion paths run too
  });
});
