import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { BrokerStore } from './broker-store.js';
import { collectOwnerless } from './jobs.js';

// The holder index (store/lua/includes/holders.lua) keeps what each name holds as a set of its own: a lease or a
// release costs the same whether the name holds one lease or a whole pool. It used to be one space-separated
// string per name, searched and rewritten on every lease (O(n) per lease, O(n²) for a node leasing a pool: the
// bench's node n1 in its ceiling phase fell from 3,900 to 1,660 leases/s). Entries an older broker wrote in that
// form are moved into a set the first time their name is touched, and the owner GC reads either.

let redis: TestRedis;
let conn: Redis;
let probe: Redis;
let store: BrokerStore;

/** Microseconds Redis spent running lease scripts (EVALSHA, inside Redis) while `fn` ran. */
async function scriptMicros(fn: () => Promise<unknown>): Promise<number> {
  await probe.config('RESETSTAT');
  await fn();
  return Number(/^cmdstat_evalsha:calls=\d+,usec=(\d+)/m.exec(await probe.info('commandstats'))?.[1] ?? NaN);
}

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  probe = new Redis({ path: redis.socket });
  store = new BrokerStore(conn, '{hi}:');
  const { secret } = await store.createToken(600, 2);
  await store.joinCluster(secret, { id: 'c1', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: [] });
  await store.createPool({ name: 'big', cidr: '10.64.0.0/10', blockSize: 30, purpose: 'pods' });
}, 60_000);
afterAll(async () => {
  conn?.disconnect();
  probe?.disconnect();
  await redis?.stop();
});

describe('holder index', () => {
  it('a lease costs the same for a node that holds 40,000 blocks as for one that holds none', async () => {
    const batch = (node: string): string[] => Array.from({ length: 250 }, () => node);
    // warm up (the script is loaded, the pool's hashes exist)
    await store.leaseBlocks('big', 'c1', batch('warm'));
    const fresh = await scriptMicros(async () => {
      for (let i = 0; i < 4; i++) await store.leaseBlocks('big', 'c1', batch(`fresh-${i}`));
    });
    for (let i = 0; i < 160; i++) await store.leaseBlocks('big', 'c1', batch('n1'));
    const full = await scriptMicros(async () => {
      for (let i = 0; i < 4; i++) await store.leaseBlocks('big', 'c1', batch('n1'));
    });
    expect(await conn.scard(store.keys.held('node', 'c1', 'n1'))).toBe(164 * 250);
    expect(await conn.hget(store.keys.holders('node', 'c1'), 'n1')).toBe('+');
    // One string of 40,000 block ids rewritten on every lease made this ~30× (and more as the node grows); with a
    // set, both are the same work. 4× leaves room for a loaded machine.
    process.stderr.write(`holder index: ${full} µs at 40,000 held, ${fresh} µs at 0\n`);
    expect(full / fresh).toBeLessThan(4);
    // A release removes one member, and the last one the name.
    const one = (await store.list('Block', (b) => b.node === 'fresh-0')).items;
    for (const b of one.slice(1)) await store.releaseBlock(b.id);
    expect(await conn.smembers(store.keys.held('node', 'c1', 'fresh-0'))).toEqual([one[0]!.id]);
    await store.releaseBlock(one[0]!.id);
    expect(await conn.exists(store.keys.held('node', 'c1', 'fresh-0'))).toBe(0);
    expect(await conn.hexists(store.keys.holders('node', 'c1'), 'fresh-0')).toBe(0);
  }, 240_000);

  it('moves an entry an older broker wrote (the list as one string) into a set when its name is touched', async () => {
    const [a, b] = (await store.leaseBlocks('big', 'c1', ['old', 'old'])).items;
    // What an older broker left: the list in the hash, no set.
    await conn.del(store.keys.held('node', 'c1', 'old'));
    await conn.hset(store.keys.holders('node', 'c1'), 'old', `${a!.id} ${b!.id}`);
    const c = await store.leaseBlock('big', 'c1', 'old');
    expect((await conn.smembers(store.keys.held('node', 'c1', 'old'))).sort()).toEqual([a!.id, b!.id, c.id].sort());
    expect(await conn.hget(store.keys.holders('node', 'c1'), 'old')).toBe('+');

    // A release of a name still in the old form.
    const [d, e] = (await store.leaseBlocks('big', 'c1', ['old2', 'old2'])).items;
    await conn.del(store.keys.held('node', 'c1', 'old2'));
    await conn.hset(store.keys.holders('node', 'c1'), 'old2', `${d!.id} ${e!.id}`);
    await store.releaseBlock(d!.id);
    expect(await conn.smembers(store.keys.held('node', 'c1', 'old2'))).toEqual([e!.id]);
    await store.releaseBlock(e!.id);
    expect(await conn.hexists(store.keys.holders('node', 'c1'), 'old2')).toBe(0);
  });

  it('the owner GC returns what an absent name holds, in the old form or the new', async () => {
    const { secret } = await store.createToken(600, 1);
    await store.joinCluster(secret, { id: 'c2', podCIDRs: ['10.2.0.0/16'], serviceCIDRs: [] });
    const olds = (await store.leaseBlocks('big', 'c2', ['gone-old', 'gone-old', 'gone-old'])).items;
    await store.leaseBlocks('big', 'c2', ['gone-new', 'gone-new', 'stays']);
    await conn.del(store.keys.held('node', 'c2', 'gone-old'));
    await conn.hset(store.keys.holders('node', 'c2'), 'gone-old', olds.map((x) => x.id).join(' '));
    await store.heartbeat('c2', { nodes: ['stays'] });
    const t0 = Date.now();
    await collectOwnerless(store, 60_000, t0);
    expect(await collectOwnerless(store, 60_000, t0 + 60_000)).toEqual({ blocks: 5, addresses: 0 });
    expect((await store.list('Block', (x) => x.cluster === 'c2')).items.map((x) => x.node)).toEqual(['stays']);
    for (const who of ['gone-old', 'gone-new']) {
      expect(await conn.exists(store.keys.held('node', 'c2', who))).toBe(0);
      expect(await conn.hexists(store.keys.holders('node', 'c2'), who)).toBe(0);
    }
    expect(await conn.exists(store.keys.absent('node', 'c2'))).toBe(0);
  });
  it('marks the index complete at the first lease of an empty store, and only then', async () => {
    const fresh = new BrokerStore(conn, '{hx}:');
    const { secret } = await fresh.createToken(600, 2);
    await fresh.joinCluster(secret, { id: 'c1', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: [] });
    await fresh.createPool({ name: 'p1', cidr: '10.64.0.0/16', blockSize: 30, purpose: 'pods' });
    await fresh.createPool({ name: 'e1', cidr: '10.65.0.0/24', purpose: 'egress' });
    await fresh.leaseAddress('e1', 'o1', 'c1');
    expect(await conn.get(fresh.keys.holdersIndexed)).toBe('empty');
    // A store holding leases the index may lack (an older broker's: no holdidx): the first lease of another, empty
    // pool must not mark it complete, or the owner GC would never index those leases.
    await conn.del(fresh.keys.holdersIndexed);
    await fresh.leaseBlock('p1', 'c1', 'n1');
    await fresh.leaseBlocks('p1', 'c1', ['n2', 'n3']);
    await fresh.leaseAddresses('e1', ['o2', 'o3'], 'c1');
    expect(await conn.get(fresh.keys.holdersIndexed)).toBeNull();
  });
});
