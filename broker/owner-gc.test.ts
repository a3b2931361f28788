import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type BrokerClient, type WatchEvent } from '../api/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { collectOwnerless } from './jobs.js';
import { startTestBroker, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;
let east: BrokerClient;
let west: BrokerClient;
const GRACE = 60_000;

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket, { bookmarkMs: 200 });
  east = await broker.join('east', ['10.1.0.0/16']);
  west = await broker.join('west', ['10.2.0.0/16']);
  await broker.admin.createPool({ name: 'p', cidr: '10.50.0.0/16', blockSize: 24 });
});
afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

const blocksOf = async (cluster: string): Promise<string[]> => (await broker.admin.listBlocks({ cluster })).items.map((b) => b.node).sort();
const ownersOf = async (cluster: string): Promise<string[]> => (await broker.admin.listAddresses({ cluster })).items.map((a) => a.owner).sort();

describe('owner GC: leases of nodes and owners a cluster reports gone', () => {
  it('returns a vanished node\'s block after the grace, not before; a reappearing node keeps its block', async () => {
    for (const n of ['n1', 'n2', 'n3']) await east.leaseBlock('p', { cluster: 'east', node: n });
    const since = (await broker.admin.listBlocks()).resourceVersion;
    const seen: WatchEvent[] = [];
    const ac = new AbortController();
    const watching = broker.admin.watch(since, (e) => {
      if (e.type !== 'BOOKMARK') seen.push(e);
      if (seen.length >= 1) ac.abort();
    }, ac.signal);

    await east.heartbeat('east', { nodes: ['n1'] }); // n2 and n3 gone
    const t0 = Date.now();
    expect(await collectOwnerless(broker.handle.store, GRACE, t0)).toEqual({ blocks: 0, addresses: 0 });
    expect(await blocksOf('east')).toEqual(['n1', 'n2', 'n3']);
    // n3 comes back before the grace ends: its missing mark is cleared.
    await east.heartbeat('east', { nodes: ['n1', 'n3'] });
    expect(await collectOwnerless(broker.handle.store, GRACE, t0 + GRACE - 1)).toEqual({ blocks: 0, addresses: 0 });
    expect(await blocksOf('east')).toEqual(['n1', 'n2', 'n3']);
    expect(await collectOwnerless(broker.handle.store, GRACE, t0 + GRACE)).toEqual({ blocks: 1, addresses: 0 });
    expect(await blocksOf('east')).toEqual(['n1', 'n3']);
    const timer = setTimeout(() => ac.abort(), 20_000);
    await watching;
    clearTimeout(timer);
    expect(seen[0]).toMatchObject({ type: 'DELETED', kind: 'Block', object: { cluster: 'east', node: 'n2' } });

    // n3 vanishes again later: its clock starts afresh at that GC run.
    await east.heartbeat('east', { nodes: ['n1'] });
    const t1 = t0 + 2 * GRACE;
    await collectOwnerless(broker.handle.store, GRACE, t1);
    expect(await blocksOf('east')).toEqual(['n1', 'n3']);
    await collectOwnerless(broker.handle.store, GRACE, t1 + GRACE);
    expect(await blocksOf('east')).toEqual(['n1']);
  });

  it('returns addresses of owners missing longer than the grace; never touches clusters that report nothing', async () => {
    await west.leaseBlock('p', { cluster: 'west', node: 'w1' });
    await west.leaseAddress('p', { owner: 'egress/a' });
    await east.leaseAddress('p', { owner: 'egress/x' });
    await east.leaseAddress('p', { owner: 'egress/y' });
    // A StatefulSet ordinal's address (node agents, broker mode) must outlive its pod: no agent reports it.
    await east.leaseAddress('p', { owner: 'sts:east:default/db/0/eth0' });
    await west.heartbeat('west'); // an old agent: no sets, so nothing is known about its nodes or owners
    await east.heartbeat('east', { nodes: ['n1'], addressOwners: ['egress/x'] });
    const t0 = Date.now();
    await collectOwnerless(broker.handle.store, GRACE, t0);
    expect(await collectOwnerless(broker.handle.store, GRACE, t0 + 10 * GRACE)).toEqual({ blocks: 0, addresses: 1 });
    expect(await ownersOf('east')).toEqual(['egress/x', 'sts:east:default/db/0/eth0']);
    expect(await ownersOf('west')).toEqual(['egress/a']);
    expect(await blocksOf('west')).toEqual(['w1']);
    expect(await blocksOf('east')).toEqual(['n1']);

    // A heartbeat without the sets makes them unknown again: no GC judged against a stale set.
    await east.heartbeat('east');
    await east.leaseBlock('p', { cluster: 'east', node: 'n9' });
    await collectOwnerless(broker.handle.store, GRACE, t0 + 20 * GRACE);
    expect(await collectOwnerless(broker.handle.store, GRACE, t0 + 30 * GRACE)).toEqual({ blocks: 0, addresses: 0 });
    expect(await blocksOf('east')).toEqual(['n1', 'n9']);
    // An empty reported set means: no nodes at all.
    await east.heartbeat('east', { nodes: [] });
    await collectOwnerless(broker.handle.store, GRACE, t0 + 40 * GRACE);
    expect(await collectOwnerless(broker.handle.store, GRACE, t0 + 41 * GRACE)).toEqual({ blocks: 2, addresses: 0 });
    expect(await blocksOf('east')).toEqual([]);
  });

  it('validates the sets and refuses other clusters\' heartbeats', async () => {
    await expect(east.heartbeat('east', { nodes: ['Not A Node'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(east.heartbeat('east', { addressOwners: ['has space'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(east.heartbeat('east', { nodes: Array.from({ length: 10_001 }, (_, i) => `n${i}`) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(west.heartbeat('east', { nodes: [] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(broker.admin.heartbeat('nowhere', { nodes: [] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A large cluster's complete set fits.
    await expect(east.heartbeat('east', { nodes: Array.from({ length: 10_000 }, (_, i) => `ip-10-0-${i}.node.internal`) })).resolves.toMatchObject({ id: 'east' });
  });

  it('runs as a repeatable job with a configurable grace', async () => {
    const b2 = await startTestBroker(redis.socket, { role: 'all', prefix: '{owner-job}:', jobs: { ownerGraceMs: 300, ownerGcEveryMs: 100 } });
    try {
      const south = await b2.join('south', ['10.9.0.0/16']);
      await b2.admin.createPool({ name: 'q', cidr: '10.60.0.0/16', blockSize: 24 });
      await south.leaseBlock('q', { cluster: 'south', node: 'gone' });
      await south.leaseBlock('q', { cluster: 'south', node: 'here' });
      await south.heartbeat('south', { nodes: ['here'] });
      for (let i = 0; i < 300 && (await b2.admin.listBlocks()).items.length > 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect((await b2.admin.listBlocks()).items.map((b) => b.node)).toEqual(['here']);
    } finally {
      await b2.stop();
    }
  });
});
