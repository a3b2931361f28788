import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { redisWork, startTestRedis, type TestRedis } from '../testing/index.js';
import { BrokerStore } from './broker-store.js';
import { collectGarbage } from './jobs.js';
import { fillScaleStore } from './testing.js';

// The gc job (clusters that left) at scale: a run's Redis work must follow the clusters, not the leases. Measured on
// the Redis side as in owner-gc-scale.test.ts (INFO commandstats counts the commands scripts run too;
// total_net_output_bytes what went out), so a listing into the worker does not pass, nor a scan on every run.

let redis: TestRedis;
let conn: Redis;
let probe: Redis;
let store: BrokerStore;
const CLUSTERS = 10;
const OWNERS = 3000; // per cluster: 30,200 leases with the blocks
const GRACE = 60_000;

const owners = (c: number): string[] => Array.from({ length: OWNERS }, (_, i) => `ns-${c}/pod-${i}`);
const leasesOf = async (cluster: string): Promise<number> =>
  (await store.list('Block', (b) => b.cluster === cluster)).items.length + (await store.list('AddressLease', (a) => a.cluster === cluster)).items.length;

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  probe = new Redis({ path: redis.socket });
  store = new BrokerStore(conn, '{gcj}:');
  await fillScaleStore(store, CLUSTERS, owners);
}, 300_000);
afterAll(async () => {
  conn?.disconnect();
  probe?.disconnect();
  await redis?.stop();
});

const TOTAL = CLUSTERS * (OWNERS + 20);

describe('gc job at 30,000 leases', () => {
  it('reads no lease while nobody left, and one pass in Redis returns the leases of a cluster that left', async () => {
    const t0 = Date.now();
    const idle = await redisWork(probe, async () => expect(await collectGarbage(store, GRACE, t0)).toEqual({ blocks: 0, addresses: 0, gateways: 0, egress: 0 }));
    // A listing of the leases is megabytes out; a run reads the cluster objects and a few small hashes.
    expect(idle.outBytes).toBeLessThan(16 * 1024);
    expect(idle.total).toBeLessThan(60);
    expect(idle.calls.hscan ?? 0).toBe(0);

    await store.removeCluster('c3');
    const gone = Date.now(); // the removal wrote its own time into `left`
    const inGrace = await redisWork(probe, async () => expect(await collectGarbage(store, GRACE, t0)).toEqual({ blocks: 0, addresses: 0, gateways: 0, egress: 0 }));
    expect(inGrace.outBytes).toBeLessThan(16 * 1024);
    expect(inGrace.calls.hscan ?? 0).toBe(0);
    expect(await leasesOf('c3')).toBe(OWNERS + 20);

    const due = await redisWork(probe, async () => expect(await collectGarbage(store, GRACE, gone + GRACE)).toEqual({ blocks: 20, addresses: OWNERS, gateways: 0, egress: 0 }));
    // one pass: a page of 1,000 entries per script call, nothing listed out of Redis
    expect(due.calls.hscan).toBeLessThanOrEqual(Math.ceil(TOTAL / 1000) + 4);
    expect(due.outBytes).toBeLessThan(32 * 1024);
    expect(await leasesOf('c3')).toBe(0);
    expect(await conn.hlen(store.keys.objects('AddressLease')) + (await conn.hlen(store.keys.objects('Block')))).toBe(TOTAL - OWNERS - 20);

    // Passed over once: later runs read no lease again.
    const after = await redisWork(probe, async () => expect(await collectGarbage(store, GRACE, gone + 2 * GRACE)).toEqual({ blocks: 0, addresses: 0, gateways: 0, egress: 0 }));
    expect(after.calls.hscan ?? 0).toBe(0);
    expect(after.outBytes).toBeLessThan(16 * 1024);
  }, 120_000);

  it('finds a cluster deleted by hand in Redis by its credential, and returns its leases after the grace', async () => {
    await conn.hdel(store.keys.objects('Cluster'), 'c5');
    const t0 = Date.now();
    expect(await collectGarbage(store, GRACE, t0)).toEqual({ blocks: 0, addresses: 0, gateways: 0, egress: 0 });
    expect(await leasesOf('c5')).toBe(OWNERS + 20);
    expect(await collectGarbage(store, GRACE, t0 + GRACE)).toEqual({ blocks: 20, addresses: OWNERS, gateways: 0, egress: 0 });
    expect(await leasesOf('c5')).toBe(0);
    expect(await leasesOf('c6')).toBe(OWNERS + 20);
    // long after: still passed over (its credential keeps it known), no second pass
    const later = await redisWork(probe, () => collectGarbage(store, GRACE, t0 + 20 * GRACE));
    expect(later.calls.hscan ?? 0).toBe(0);
  }, 120_000);
});
