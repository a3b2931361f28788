import type * as JestGlobals from '@jest/globals';
import { isStraitError } from '../api/index.js';
import { IpamEngine, type AllocationRecord, type AllocationStore, type IpamConfig, type Owner } from '../ipam/index.js';

/** What a store backend gives the suite: a fresh, empty store, and optionally a way to reopen the same data. */
export interface StoreHarness {
  store: AllocationStore;
  /** Opens a new store instance over the same durable data (restart); omit for non-durable stores. */
  reopen?: () => Promise<AllocationStore>;
  /** Removes the data (temp dirs, Redis keys). Stores from `reopen` are closed by the suite. */
  cleanup?: () => Promise<void>;
}

// Jest's globals, typed, read at call time rather than imported: testing/index.ts re-exports this file, and
// importing @jest/globals outside a Jest run throws, which would break scripts that only want startTestRedis
// (and the build, which has no jest global types).
const jestGlobals = (): typeof JestGlobals => globalThis as unknown as typeof JestGlobals;

const rec = (address: string, ownerKey: string, extra: Partial<AllocationRecord> = {}): AllocationRecord => ({
  address,
  family: address.includes(':') ? 'ipv6' : 'ipv4',
  pool: 'p1',
  ownerKey,
  owner: { containerId: ownerKey.replace(/\W/g, ''), ifName: 'eth0' },
  updatedAt: 1000,
  ...extra,
});

const byAddress = (a: AllocationRecord, b: AllocationRecord): number => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);

/**
 * The one conformance suite every AllocationStore runs (memory, file, Redis). Call it at the top level of a test
 * file: `runAllocationStoreConformance('memory', async () => ({ store: new MemoryAllocationStore() }))`.
 * It checks the contract in ipam/stores/allocation-store.ts, concurrency (no address or block ever held twice),
 * durability across reopen when `reopen` is given, and the IpamEngine running on top of the store.
 */
export function runAllocationStoreConformance(name: string, factory: () => Promise<StoreHarness>): void {
  const { describe, it, expect, beforeEach, afterEach } = jestGlobals();
  describe(`AllocationStore conformance: ${name}`, () => {
    let h: StoreHarness;
    let s: AllocationStore;
    const extra: AllocationStore[] = [];
    beforeEach(async () => {
      h = await factory();
      s = h.store;
    });
    afterEach(async () => {
      for (const x of extra.splice(0)) await x.close();
      await s.close();
      await h.cleanup?.();
    });

    it('reserves a free address, is idempotent per owner, and answers false when taken', async () => {
      expect(await s.reserve(rec('10.0.0.5', 'ctr:a/eth0'))).toBe(true);
      expect(await s.reserve(rec('10.0.0.5', 'ctr:a/eth0', { updatedAt: 2000 }))).toBe(true);
      expect(await s.reserve(rec('10.0.0.5', 'ctr:b/eth0'))).toBe(false);
      const got = await s.get('10.0.0.5');
      expect(got).toEqual(rec('10.0.0.5', 'ctr:a/eth0'));
      expect(await s.get('10.0.0.6')).toBeUndefined();
    });

    it('keeps IPv6 records', async () => {
      expect(await s.reserve(rec('fd00::5', 'ctr:a/eth0', { pool: 'p6' }))).toBe(true);
      expect(await s.reserve(rec('fd00::5', 'ctr:b/eth0', { pool: 'p6' }))).toBe(false);
      expect((await s.get('fd00::5'))?.family).toBe('ipv6');
    });

    it('lists with filters on pool, owner key and sticky key', async () => {
      await s.reserve(rec('10.0.0.1', 'k1'));
      await s.reserve(rec('10.0.0.2', 'k2', { pool: 'p2' }));
      await s.reserve(rec('10.0.0.3', 'k1', { sticky: 'ns/web/0/eth0' }));
      expect((await s.list()).map((r) => r.address).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
      expect((await s.list({ pool: 'p2' })).map((r) => r.address)).toEqual(['10.0.0.2']);
      expect((await s.list({ ownerKey: 'k1' })).map((r) => r.address).sort()).toEqual(['10.0.0.1', '10.0.0.3']);
      expect((await s.list({ sticky: 'ns/web/0/eth0' })).map((r) => r.address)).toEqual(['10.0.0.3']);
      expect(await s.list({ pool: 'p1', ownerKey: 'k2' })).toEqual([]);
    });

    it('replace is a compare-and-swap on the owner key, and delete is idempotent', async () => {
      await s.reserve(rec('10.0.0.9', 'k1'));
      expect(await s.replace('10.0.0.9', 'k2', rec('10.0.0.9', 'k3'))).toBe(false);
      expect(await s.replace('10.0.0.9', 'k1', rec('10.0.0.9', 'sticky:ns/db/1/eth0', { sticky: 'ns/db/1/eth0', owner: undefined }))).toBe(true);
      const parked = await s.get('10.0.0.9');
      expect(parked?.ownerKey).toBe('sticky:ns/db/1/eth0');
      expect(parked?.owner).toBeUndefined();
      expect(await s.reserve(rec('10.0.0.9', 'k1'))).toBe(false);
      expect(await s.replace('10.0.0.9', 'sticky:ns/db/1/eth0')).toBe(true);
      expect(await s.get('10.0.0.9')).toBeUndefined();
      expect(await s.replace('10.0.0.9', 'sticky:ns/db/1/eth0')).toBe(false);
      expect(await s.replace('10.0.0.77', 'nobody')).toBe(false);
      expect(await s.reserve(rec('10.0.0.9', 'k4'))).toBe(true);
    });

    it('never gives one address to two owners under concurrent reserves', async () => {
      const addresses = Array.from({ length: 20 }, (_, i) => `10.1.0.${i + 1}`);
      const owners = Array.from({ length: 10 }, (_, i) => `ctr:c${i}/eth0`);
      const attempts = owners.flatMap((o) => addresses.map((a) => ({ o, a })));
      const results = await Promise.all(attempts.map(async ({ o, a }) => ({ o, a, ok: await s.reserve(rec(a, o)) })));
      for (const a of addresses) {
        const winners = results.filter((r) => r.a === a && r.ok);
        expect(winners).toHaveLength(1);
        expect((await s.get(a))?.ownerKey).toBe(winners[0]!.o);
      }
      expect(await s.list()).toHaveLength(addresses.length);
    });

    it('lets exactly one concurrent replace win', async () => {
      await s.reserve(rec('10.2.0.1', 'k0'));
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.replace('10.2.0.1', 'k0', rec('10.2.0.1', `k${i + 1}`))));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('leases blocks to one node at a time, idempotently', async () => {
      const lease = { pool: 'p1', cidr: '10.0.0.0/26', node: 'n1', leasedAt: 5 };
      expect(await s.leaseBlock(lease)).toBe(true);
      expect(await s.leaseBlock({ ...lease, leasedAt: 6 })).toBe(true);
      expect(await s.leaseBlock({ ...lease, node: 'n2' })).toBe(false);
      expect(await s.leaseBlock({ ...lease, pool: 'p2', node: 'n2' })).toBe(true);
      expect(await s.leaseBlock({ pool: 'p6', cidr: 'fd00::/122', node: 'n1', leasedAt: 7 })).toBe(true);
      expect((await s.listBlocks({ pool: 'p1' }))).toEqual([lease]);
      expect((await s.listBlocks({ node: 'n2' })).map((b) => b.pool)).toEqual(['p2']);
      expect(await s.listBlocks()).toHaveLength(3);
      expect(await s.releaseBlock('p1', '10.0.0.0/26', 'n2')).toBe(false);
      expect(await s.releaseBlock('p1', '10.0.0.0/26', 'n1')).toBe(true);
      expect(await s.releaseBlock('p1', '10.0.0.0/26', 'n1')).toBe(false);
      expect(await s.leaseBlock({ ...lease, node: 'n2' })).toBe(true);
    });

    it('gives a block to exactly one of many racing nodes', async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => s.leaseBlock({ pool: 'p1', cidr: '10.9.0.0/26', node: `n${i}`, leasedAt: 1 })),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await s.listBlocks()).toHaveLength(1);
    });

    it('keeps everything across a reopen (when the store is durable)', async () => {
      if (!h.reopen) return;
      await s.reserve(rec('10.0.0.1', 'k1'));
      await s.reserve(rec('fd00::1', 'k1', { pool: 'p6' }));
      await s.reserve(rec('10.0.0.2', 'k2'));
      await s.replace('10.0.0.2', 'k2');
      await s.leaseBlock({ pool: 'p1', cidr: '10.0.0.0/26', node: 'n1', leasedAt: 1 });
      const before = (await s.list()).sort(byAddress);
      const t = await h.reopen();
      extra.push(t);
      expect((await t.list()).sort(byAddress)).toEqual(before);
      expect(await t.reserve(rec('10.0.0.1', 'k9'))).toBe(false);
      expect(await t.reserve(rec('10.0.0.2', 'k9'))).toBe(true);
      expect(await t.listBlocks()).toEqual([{ pool: 'p1', cidr: '10.0.0.0/26', node: 'n1', leasedAt: 1 }]);
    });

    describe('with the IpamEngine on top', () => {
      const config: IpamConfig = {
        pools: [
          { name: 'v4', subnet: '10.60.0.0/24', ips: ['10.60.0.10-10.60.0.49'], gateway: '10.60.0.1', default: true, blockSize: 28 },
          { name: 'v6', subnet: 'fd60::/64', ips: ['fd60::10-fd60::3f'], gateway: 'fd60::1', default: true },
        ],
      };
      const owner = (i: number): Owner => ({ containerId: `c${i}`, ifName: 'eth0', namespace: 'default', podName: `pod-${i}` });
      const req = { node: { name: 'node-a' } };

      it('hands out unique dual-stack addresses under concurrency and reports exhaustion cleanly', async () => {
        const engine = new IpamEngine({ store: s, config });
        const outcomes = await Promise.allSettled(Array.from({ length: 48 }, (_, i) => engine.allocate(owner(i), req)));
        const ok = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
        expect(ok).toHaveLength(40);
        expect(failed.every((e) => isStraitError(e, 'POOL_EXHAUSTED'))).toBe(true);
        const v4 = ok.map((r) => r.ips.find((ip) => ip.family === 'ipv4')!.address);
        const v6 = ok.map((r) => r.ips.find((ip) => ip.family === 'ipv6')!.address);
        expect(new Set(v4).size).toBe(40);
        expect(new Set(v6).size).toBe(40);
        // A failed dual-stack allocation leaves nothing behind: the store holds exactly the winners' addresses.
        expect(await s.list()).toHaveLength(80);
      });

      it('is idempotent per owner, releases idempotently and survives a fresh engine over the same store', async () => {
        const engine = new IpamEngine({ store: s, config });
        const a = await engine.allocate(owner(1), req);
        expect(await engine.allocate(owner(1), req)).toMatchObject({ ips: a.ips });
        const fresh = new IpamEngine({ store: s, config });
        expect((await fresh.allocate(owner(1), req)).ips).toEqual(a.ips);
        expect((await fresh.check(owner(1)))?.ips).toEqual(a.ips);
        expect(await fresh.release(owner(1))).toHaveLength(2);
        expect(await fresh.release(owner(1))).toEqual([]);
        expect(await fresh.check(owner(1))).toBeUndefined();
        expect(await s.list()).toEqual([]);
      });

      it('keeps a StatefulSet ordinal on its address across delete and recreate', async () => {
        const engine = new IpamEngine({ store: s, config });
        const sts = (c: string): Owner => ({ containerId: c, ifName: 'eth0', namespace: 'db', podName: 'pg-0', statefulSet: { name: 'pg', ordinal: 0 } });
        const first = await engine.allocate(sts('x1'), req);
        await engine.allocate(owner(7), req);
        await engine.release(sts('x1'));
        await engine.allocate(owner(8), req);
        const again = await new IpamEngine({ store: s, config }).allocate(sts('x2'), req);
        expect(again.ips).toEqual(first.ips);
      });
    });
  });
}
