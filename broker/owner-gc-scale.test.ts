import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { redisWork, startTestRedis, type TestRedis } from '../testing/index.js';
import { BrokerStore } from './broker-store.js';
import { collectOwnerless } from './jobs.js';
import { fillScaleStore } from './testing.js';

// The owner GC at scale: a run's Redis work must follow the names that went missing, not the leases. Measured on
// the Redis side (INFO commandstats counts the commands scripts run too; total_net_output_bytes what went out), so
// neither a client-side listing nor a listing inside a script passes.

let redis: TestRedis;
let conn: Redis;
let probe: Redis;
let store: BrokerStore;
const CLUSTERS = 10;
const OWNERS = 10_000; // per cluster: 100,000 address leases
const GRACE = 60_000;

const owners = (c: number): string[] => Array.from({ length: OWNERS }, (_, i) => `ns-${c}/pod-${i}`);

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  probe = new Redis({ path: redis.socket });
  store = new BrokerStore(conn, '{gc}:');
  await fillScaleStore(store, CLUSTERS, owners, { heartbeat: true });
  // The first run over a store indexes nothing (every lease was indexed as it was made) and finds nothing missing.
  expect(await store.collectOwnerless(Date.now(), GRACE)).toEqual({ blocks: 0, addresses: 0, indexed: 0 });
}, 300_000);
afterAll(async () => {
  conn?.disconnect();
  probe?.disconnect();
  await redis?.stop();
});

describe('owner GC at 100,000 leases', () => {
  it('does work for the one owner that went missing, not for the 100,000 leases', async () => {
    expect(await conn.hlen(store.keys.objects('AddressLease'))).toBe(CLUSTERS * OWNERS);
    // One pod of c3 is gone.
    await store.heartbeat('c3', { nodes: Array.from({ length: 20 }, (_, i) => `node-${i}`), addressOwners: owners(3).filter((o) => o !== 'ns-3/pod-77') });
    const [ip] = await conn.smembers(store.keys.held('owner', 'c3', 'ns-3/pod-77'));
    expect(await conn.hexists(store.keys.objects('AddressLease'), ip ?? 'none')).toBe(1);
    const t0 = Date.now();
    const quiet = await redisWork(probe, () => collectOwnerless(store, GRACE, t0));
    const due = await redisWork(probe, async () => expect(await collectOwnerless(store, GRACE, t0 + GRACE)).toEqual({ blocks: 0, addresses: 1 }));
    expect(await conn.hexists(store.keys.objects('AddressLease'), ip!)).toBe(0);
    expect(await conn.exists(store.keys.held('owner', 'c3', 'ns-3/pod-77'))).toBe(0);
    expect(await conn.hlen(store.keys.objects('AddressLease'))).toBe(CLUSTERS * OWNERS - 1);
    for (const run of [quiet, due]) {
      // A listing of the leases would be ≥ 100,000 HGET/HSCAN/SISMEMBER calls or megabytes out; a run does tens.
      expect(run.total).toBeLessThan(100);
      expect(run.outBytes).toBeLessThan(16 * 1024);
      for (const listing of ['hgetall', 'hscan', 'hkeys', 'hvals', 'scan', 'keys', 'sscan', 'zscan']) expect(run.calls[listing] ?? 0).toBe(0);
    }
    // Nothing is left to look at: the next run is a handful of commands.
    const idle = await redisWork(probe, () => collectOwnerless(store, GRACE, t0 + 2 * GRACE));
    expect(idle.total).toBeLessThan(10);
  }, 120_000);

  it('a heartbeat with one owner fewer costs the set it carries, not the leases of other clusters', async () => {
    const hb = await redisWork(probe, () => store.heartbeat('c5', { addressOwners: owners(5).filter((o) => o !== 'ns-5/pod-1') }));
    // the set itself (10,000 SADD arguments in 10 calls), the diff, and the cluster's object update
    expect(hb.total).toBeLessThan(100);
    expect(await conn.zscore(store.keys.absent('owner', 'c5'), 'ns-5/pod-1')).toBe('inf');
    // The pod comes back: its absence ends.
    await store.heartbeat('c5', { addressOwners: owners(5) });
    expect(await conn.exists(store.keys.absent('owner', 'c5'))).toBe(0);
    expect(await conn.sismember(store.keys.absentQueue, 'owner:c5')).toBe(0);
  }, 120_000);

  it('indexes once the leases of a store written before the holder index, then collects them', async () => {
    // What an older broker left: leases without index entries, and no `holdidx`.
    const holders = [...(await conn.keys(`${store.prefix}hold:*`)), ...(await conn.keys(`${store.prefix}held:*`))];
    await conn.del(...holders, store.keys.holdersIndexed, store.keys.absentQueue, ...(await conn.keys(`${store.prefix}absent:*`)));
    await store.heartbeat('c7', { nodes: ['node-0'], addressOwners: owners(7).slice(1) });
    const first = await store.collectOwnerless(Date.now(), GRACE);
    expect(first.indexed).toBe(CLUSTERS * (OWNERS + 20) - 1);
    const t0 = Date.now();
    await collectOwnerless(store, GRACE, t0);
    expect(await collectOwnerless(store, GRACE, t0 + GRACE)).toEqual({ blocks: 19, addresses: 1 });
    expect((await store.list('Block', (b) => b.cluster === 'c7')).items.map((b) => b.node)).toEqual(['node-0']);
    expect((await store.collectOwnerless(Date.now(), GRACE)).indexed).toBe(0);
  }, 300_000);
});
