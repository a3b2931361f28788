import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WatchEvent } from '../api/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { collectGarbage, sweepHeartbeats } from './jobs.js';
import { startTestBroker, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;

beforeAll(async () => {
  redis = await startTestRedis({ appendonly: true });
  broker = await startTestBroker(redis.socket, {
    role: 'all',
    bookmarkMs: 300,
    jobs: { heartbeatTimeoutMs: 1500, sweepEveryMs: 200, gcGraceMs: 500, gcEveryMs: 200, compactKeep: 1000, compactEveryMs: 200 },
  });
});
afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

async function eventually<T>(f: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

describe('jobs', () => {
  it('sweep marks silent clusters NotReady and a heartbeat makes them Ready again', async () => {
    const store = broker.handle.store;
    const t = await broker.admin.createToken();
    await broker.admin.joinCluster({ id: 'quiet', podCIDRs: ['10.7.0.0/16'] }, t.token);
    expect(await sweepHeartbeats(store, 60_000)).toEqual([]);
    expect(await sweepHeartbeats(store, 1, Date.now() + 10)).toContain('quiet');
    expect((await broker.admin.getCluster('quiet')).status).toBe('NotReady');
    expect((await broker.admin.heartbeat('quiet')).status).toBe('Ready');
  });

  it('GC returns a removed cluster\'s blocks, addresses and gateways only after the grace period', async () => {
    const store = broker.handle.store;
    const t = await broker.admin.createToken();
    await broker.admin.joinCluster({ id: 'gone', podCIDRs: ['10.8.0.0/16'] }, t.token);
    await broker.admin.createPool({ name: 'gcp', cidr: '10.90.0.0/24', blockSize: 28 });
    await broker.admin.leaseBlock('gcp', { cluster: 'gone', node: 'n' });
    await broker.admin.leaseAddress('gcp', { cluster: 'gone', owner: 'egress/e' });
    await broker.admin.putGateway('gone', 'gw', { endpoints: ['192.0.2.7'], tunnelTypes: ['vxlan'] });
    await broker.admin.removeCluster('gone');
    expect(await collectGarbage(store, 3_600_000)).toEqual({ blocks: 0, addresses: 0, gateways: 0, egress: 0 });
    expect(await collectGarbage(store, 0, Date.now() + 1)).toEqual({ blocks: 1, addresses: 1, gateways: 1, egress: 0 });
    await broker.admin.deletePool('gcp');
  });
});

describe('a Redis restart', () => {
  it('is survived by the API, open watches and the scheduled jobs', async () => {
    const t = await broker.admin.createToken({ uses: 2 });
    await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, t.token);
    await broker.admin.createPool({ name: 'rp', cidr: '10.91.0.0/20', blockSize: 26 });
    const before = await broker.admin.leaseBlock('rp', { cluster: 'east', node: 'n1' });

    const seen: WatchEvent[] = [];
    const ac = new AbortController();
    const watching = broker.admin.watch(before.resourceVersion, (e) => seen.push(e), ac.signal).catch(() => undefined);
    await eventually(async () => (seen.some((e) => e.type === 'BOOKMARK') ? true : undefined), 'the watch to be established');

    await redis.kill();
    await expect(broker.admin.leaseBlock('rp', { cluster: 'east', node: 'n1' })).rejects.toMatchObject({ name: 'StraitError' });
    await redis.restart();

    // The API answers again, and state from before the crash (append-only file) is there.
    const after = await eventually(() => broker.admin.leaseBlock('rp', { cluster: 'east', node: 'n2' }), 'a lease after the restart');
    expect(after.cidr).not.toBe(before.cidr);
    expect((await broker.admin.listBlocks({ pool: 'rp' })).items.map((b) => b.id)).toContain(before.id);

    // The open watch delivers the post-restart change.
    await eventually(async () => (seen.some((e) => e.type === 'ADDED' && (e.object as { id?: string }).id === after.id) ? true : undefined), 'the watch event');

    // The scheduled sweep still runs: a cluster that stops heartbeating becomes NotReady.
    await broker.admin.joinCluster({ id: 'mute', podCIDRs: ['10.2.0.0/16'] }, t.token);
    await eventually(async () => ((await broker.admin.getCluster('mute')).status === 'NotReady' ? true : undefined), 'the heartbeat sweep after the restart');
    ac.abort();
    await watching;
  });
});
