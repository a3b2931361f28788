import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { isStraitError } from '../api/index.js';
import { startTestRedis, type TestRedis, outcomeCode } from '../testing/index.js';
import { BrokerStore } from './broker-store.js';

let redis: TestRedis;
let conn: Redis;
let store: BrokerStore;

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  store = new BrokerStore(conn, '{t}:');
});
afterAll(async () => {
  conn.disconnect();
  await redis.stop();
});


describe('BrokerStore (Lua on a real Redis)', () => {
  it('joins clusters, refusing overlap with the other cluster named', async () => {
    const { secret } = await store.createToken(60, 2);
    const a = await store.joinCluster(secret, { id: 'east', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] });
    expect(a.cluster.resourceVersion).toBe('1');
    expect(await outcomeCode(store.joinCluster(secret, { id: 'east', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] }))).toBe('ALREADY_EXISTS');
    const again = await store.rejoinCluster(a.credential, { id: 'east', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] });
    expect(again).toMatchObject({ rejoined: true, credential: a.credential });
    try {
      await store.joinCluster(secret, { id: 'west', podCIDRs: ['10.1.128.0/17'], serviceCIDRs: ['10.97.0.0/16'] });
      throw new Error('expected overlap');
    } catch (e) {
      expect(isStraitError(e, 'CIDR_OVERLAP')).toBe(true);
      expect((e as Error).message).toContain('east');
      expect((e as Error).message).toContain('10.1.128.0/17 overlaps 10.1.0.0/16');
    }
    await store.joinCluster(secret, { id: 'west', podCIDRs: ['10.2.0.0/16'], serviceCIDRs: [] });
    expect(await outcomeCode(store.joinCluster(secret, { id: 'north', podCIDRs: ['10.3.0.0/16'], serviceCIDRs: [] }))).toBe('JOIN_TOKEN_INVALID');
  });

  it('replays a single block lease recorded as OK <json> (before single leases were batches of one)', async () => {
    const idem = { key: 'admin/pre-upgrade-lease', fingerprint: 'fp-1' };
    const recorded = { resourceVersion: '7', id: 'old.0.7', pool: 'old', cidr: '10.99.0.0/26', cluster: 'east', node: 'n1', createdAt: '2026-01-01T00:00:00.000Z' };
    await conn.hset(store.keys.idempotency(idem.key), 'fp', idem.fingerprint, 'reply', JSON.stringify(['OK', JSON.stringify(recorded)]));
    expect(await store.leaseBlock('old', 'east', 'n1', idem)).toEqual(recorded);
  });

  it('leases a block far past its cursor (a long run of taken blocks) and counts what is free only when it must', async () => {
    await store.createPool({ name: 'run', cidr: '10.210.0.0/24', blockSize: 28, purpose: 'pods' });
    for (let i = 0; i < 12; i++) await store.leaseBlock('run', 'east', 'n1');
    // The cursor back at block 0 (as after wrapping round): 12 taken blocks lie ahead, more than the quick look takes.
    await conn.hset('{t}:cur:run', 'b', '0');
    expect((await store.leaseBlock('run', 'east', 'n1')).cidr).toBe('10.210.0.192/28');
    await store.leaseBlocks('run', 'east', ['a', 'b', 'c']);
    await expect(store.leaseBlocks('run', 'east', ['d', 'e'])).rejects.toMatchObject({ code: 'POOL_EXHAUSTED', details: { requested: 2, available: 0 } });
    expect(await outcomeCode(store.leaseBlock('run', 'east', 'n1'))).toBe('POOL_EXHAUSTED');
    expect(await conn.hlen('{t}:pb:run')).toBe(16);
  });

  it('leases IPv4 and IPv6 blocks and addresses that format like ipaddr.js', async () => {
    await store.createSubnet({ name: 'v4', cidr: '10.200.0.0/16' });
    await store.createPool({ name: 'p4', cidr: '10.200.0.0/24', blockSize: 26, subnet: 'v4', purpose: 'pods' });
    expect(await outcomeCode(store.createPool({ name: 'p4b', cidr: '10.200.0.128/25', purpose: 'pods' }))).toBe('CIDR_OVERLAP');
    expect(await outcomeCode(store.createPool({ name: 'p4c', cidr: '10.201.0.0/25', subnet: 'v4', purpose: 'pods' }))).toBe('INVALID_ARGUMENT');
    const blocks = [];
    for (let i = 0; i < 3; i++) blocks.push((await store.leaseBlock('p4', 'east', 'n1')).cidr);
    expect(blocks).toEqual(['10.200.0.0/26', '10.200.0.64/26', '10.200.0.128/26']);
    const a = await store.leaseAddress('p4', 'egress/x', 'east');
    expect(a.lease.ip).toBe('10.200.0.254');
    expect((await store.leaseAddress('p4', 'egress/x', 'east')).existing).toBe(true);
    expect(await outcomeCode(store.leaseBlock('p4', 'east', 'n1'))).toBe('POOL_EXHAUSTED');
    expect(await outcomeCode(store.deletePool('p4'))).toBe('IN_USE');
    expect(await outcomeCode(store.deleteSubnet('v4'))).toBe('IN_USE');

    // /64 blocks are more than a node agent's block bitmap holds: refused for pods, fine for the Lua formatting below.
    expect(await outcomeCode(store.createPool({ name: 'p6', cidr: 'fd00:0:0:100::/56', blockSize: 64, purpose: 'pods' }))).toBe('INVALID_POOL');
    await store.createPool({ name: 'p6', cidr: 'fd00:0:0:100::/56', blockSize: 64, purpose: 'services' });
    for (let i = 0; i < 3; i++) {
      const b = await store.leaseBlock('p6', 'west', 'n1');
      const [net] = ipaddr.parseCIDR(b.cidr);
      expect(b.cidr).toBe(`${ipaddr.IPv6.parse(`fd00:0:0:${(0x100 + i).toString(16)}::`).toString()}/64`);
      expect(net.toString()).toBe(b.cidr.split('/')[0]);
    }
    await store.createPool({ name: 'e6', cidr: '2001:db8::/120', blockSize: 124, purpose: 'egress' });
    const ips = [];
    for (let i = 0; i < 20; i++) ips.push((await store.leaseAddress('e6', `o${i}`, 'west')).lease.ip);
    expect(ips.slice(0, 3)).toEqual(['2001:db8::ff', '2001:db8::fe', '2001:db8::fd']);
    expect(ips[17]).toBe('2001:db8::ee');
    expect(await store.releaseAddress('2001:db8::fe')).toMatchObject({ owner: 'o1' });
    expect(await outcomeCode(store.releaseAddress('2001:db8::fe'))).toBe('NOT_FOUND');
  });

  it('puts with compare-and-swap and logs every write as an event in order', async () => {
    const g = await store.put('Gateway', 'east/gw1', 'upsert', { cluster: 'east', name: 'gw1', endpoints: ['1.2.3.4'], tunnelTypes: ['vxlan'], publicKeys: {}, priority: 1, health: 'Healthy', updatedAt: 'x' }, '', { kind: 'Cluster', name: 'east' });
    expect(await outcomeCode(store.put('Gateway', 'east/gw1', 'upsert', { ...g, priority: 2 }, '1'))).toBe('STALE_RESOURCE_VERSION');
    const g2 = await store.put('Gateway', 'east/gw1', 'upsert', { ...g, priority: 2 }, g.resourceVersion);
    expect(Number(g2.resourceVersion)).toBeGreaterThan(Number(g.resourceVersion));
    const events = await store.eventsAfter(0, 10000);
    expect(events.map((e) => e.rev)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'MODIFIED', kind: 'Gateway' });
    expect(String(events.at(-1)?.rev)).toBe(g2.resourceVersion);
  });
});
