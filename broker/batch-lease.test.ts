import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { type BrokerClient, type WatchEvent } from '../api/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { startTestBroker, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;
let conn: Redis;
let east: BrokerClient;
let west: BrokerClient;

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket, { bookmarkMs: 200 });
  conn = new Redis({ path: redis.socket });
  east = await broker.join('east', ['10.1.0.0/16']);
  west = await broker.join('west', ['10.2.0.0/16']);
});
afterAll(async () => {
  conn?.disconnect();
  await broker?.stop();
  await redis?.stop();
});

/**
 * Every key and its content: equal snapshots mean nothing changed. (Contents, not DUMPs: reads may advance a big
 * hash's incremental rehash, which reorders its DUMP without changing anything.)
 */
async function snapshot(): Promise<string> {
  const keys = (await conn.keys('*')).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const type = await conn.type(k);
    let v: unknown;
    if (type === 'hash') v = Object.entries(await conn.hgetall(k)).sort();
    else if (type === 'set') v = (await conn.smembers(k)).sort();
    else if (type === 'string') v = await conn.get(k);
    else if (type === 'stream') v = await conn.xrange(k, '-', '+');
    else v = type;
    parts.push(`${k}=${JSON.stringify(v)}`);
  }
  return parts.join('\n');
}

describe('batch leases', () => {
  it('leases one address per owner in one step, owner-idempotent, in order, one event per new lease', async () => {
    await broker.admin.createPool({ name: 'eg', cidr: '192.0.2.0/24', purpose: 'egress' });
    const before = await east.leaseAddress('eg', { owner: 'egress/old' });
    const since = (await broker.admin.listAddresses()).resourceVersion;
    const seen: WatchEvent[] = [];
    const ac = new AbortController();
    const watching = broker.admin.watch(since, (e) => {
      if (e.type !== 'BOOKMARK') seen.push(e);
      if (seen.length >= 3) ac.abort();
    }, ac.signal);
    const r = await east.leaseAddresses('eg', { owners: ['egress/a', 'egress/old', 'egress/b', 'egress/a', 'egress/c'] });
    const ips = r.items.map((a) => a.ip);
    expect(r.items.map((a) => a.owner)).toEqual(['egress/a', 'egress/old', 'egress/b', 'egress/a', 'egress/c']);
    expect(ips[1]).toBe(before.ip);
    expect(ips[3]).toBe(ips[0]);
    expect(new Set(ips).size).toBe(4);
    for (const a of r.items) expect(a).toMatchObject({ pool: 'eg', cluster: 'east' });
    // Again: the same addresses, nothing new.
    const again = await east.leaseAddresses('eg', { owners: ['egress/c', 'egress/a'] });
    expect(again.items.map((a) => a.ip)).toEqual([ips[4], ips[0]]);
    const timer = setTimeout(() => ac.abort(), 20_000);
    await watching;
    clearTimeout(timer);
    expect(seen.map((e) => `${e.type} ${(e.object as { owner: string }).owner}`)).toEqual(['ADDED egress/a', 'ADDED egress/b', 'ADDED egress/c']);
    expect(seen.map((e) => Number(e.resourceVersion))).toEqual([1, 2, 3].map((i) => Number(since) + i));
    expect(r.resourceVersion).toBe(seen[2]!.resourceVersion);
    expect((await broker.admin.listAddresses({ pool: 'eg' })).items).toHaveLength(4);
  });

  it('is all or nothing: a pool that cannot give every address, or an owner held for another cluster, changes nothing', async () => {
    await broker.admin.createPool({ name: 'tiny', cidr: '198.51.100.0/29', purpose: 'egress' }); // 6 usable
    await east.leaseAddresses('tiny', { owners: ['o1', 'o2', 'o3', 'o4'] });
    await west.leaseAddress('tiny', { owner: 'w1' });
    const before = await snapshot();
    await expect(east.leaseAddresses('tiny', { owners: ['o5', 'o6', 'o7'] })).rejects.toMatchObject({ code: 'POOL_EXHAUSTED', status: 409, details: { pool: 'tiny', requested: 3, available: 1 } });
    await expect(east.leaseAddresses('tiny', { owners: ['o5', 'w1'] })).rejects.toMatchObject({ code: 'ALREADY_EXISTS', details: { owner: 'w1' } });
    await expect(west.leaseAddresses('tiny', { owners: ['x'], cluster: 'east' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(east.leaseAddresses('nope', { owners: ['x'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(east.leaseAddresses('tiny', { owners: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(east.leaseAddresses('tiny', { owners: Array.from({ length: 257 }, (_, i) => `o${i}`) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(east.request('POST', '/v1/ippools/tiny/addresses', { owner: 'a', owners: ['b'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await snapshot()).toBe(before);
    // Owners already holding their address are not counted against the free space.
    await expect(east.leaseAddresses('tiny', { owners: ['o1', 'o2', 'o5'] })).resolves.toMatchObject({ items: [{ owner: 'o1' }, { owner: 'o2' }, { owner: 'o5' }] });
  });

  it('leases one block per node entry, never overlapping the pool\'s addresses, all or nothing', async () => {
    await broker.admin.createPool({ name: 'bp', cidr: '10.60.0.0/24', blockSize: 27 }); // 8 blocks
    await east.leaseAddress('bp', { owner: 'top' }); // taken from the top: the last block holds an address
    const r = await east.leaseBlocks('bp', { cluster: 'east', nodes: ['a', 'b', 'a'] });
    expect(r.items.map((b) => b.node)).toEqual(['a', 'b', 'a']);
    expect(new Set(r.items.map((b) => b.cidr)).size).toBe(3);
    expect(r.items.map((b) => b.cidr)).toEqual(['10.60.0.0/27', '10.60.0.32/27', '10.60.0.64/27']);
    await east.leaseBlocks('bp', { cluster: 'east', nodes: ['c', 'c', 'c'] });
    const before = await snapshot();
    await expect(east.leaseBlocks('bp', { cluster: 'east', nodes: ['d', 'd'] })).rejects.toMatchObject({ code: 'POOL_EXHAUSTED', details: { requested: 2, available: 1 } });
    await expect(west.leaseBlocks('bp', { cluster: 'east', nodes: ['d'] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(east.leaseBlocks('bp', { cluster: 'nowhere', nodes: ['d'] } as never)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(broker.admin.leaseBlocks('bp', { cluster: 'nowhere', nodes: ['d'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await snapshot()).toBe(before);
    const last = await east.leaseBlocks('bp', { cluster: 'east', nodes: ['d'] });
    expect(last.items[0]!.cidr).toBe('10.60.0.192/27');
  });
});
