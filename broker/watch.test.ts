import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type WatchEvent } from '../api/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { startTestBroker, type TestBroker } from './testing.js';

let redis: TestRedis;
let broker: TestBroker;

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket, { bookmarkMs: 200 });
});
afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

/** Watches until `until` says stop; returns the events seen. */
async function collect(since: string, until: (seen: WatchEvent[]) => boolean, timeoutMs = 20_000): Promise<WatchEvent[]> {
  const seen: WatchEvent[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  await broker.admin.watch(since, (e) => {
    seen.push(e);
    if (until(seen)) ac.abort();
  }, ac.signal);
  clearTimeout(timer);
  return seen;
}

describe('watch', () => {
  it('delivers every change in order, live and on resume from since, with bookmarks', async () => {
    const start = (await broker.admin.listPools()).resourceVersion;
    // Writers start while the watcher is connecting: nothing may be lost between catch-up and live delivery.
    const writes = (async () => {
      await broker.admin.createSubnet({ name: 'w', cidr: '10.80.0.0/16' });
      const t = await broker.admin.createToken();
      await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, t.token);
      await broker.admin.createPool({ name: 'wp', cidr: '10.80.0.0/20', blockSize: 26, subnet: 'w' });
      await Promise.all(Array.from({ length: 40 }, (_, i) => broker.admin.leaseBlock('wp', { cluster: 'east', node: `n${i % 4}` })));
      await broker.admin.putGateway('east', 'gw', { endpoints: ['192.0.2.1'], tunnelTypes: ['vxlan'] });
      const b = await broker.admin.listBlocks({ pool: 'wp' });
      await Promise.all(b.items.slice(0, 10).map((x) => broker.admin.releaseBlock(x.id)));
    })();
    const total = 1 + 1 + 1 + 40 + 1 + 10;
    const live = collect(start, (s) => s.filter((e) => e.type !== 'BOOKMARK').length >= total && s.at(-1)?.type === 'BOOKMARK');
    await writes;
    const events = await live;
    const changes = events.filter((e) => e.type !== 'BOOKMARK');
    expect(changes).toHaveLength(total);
    const revs = changes.map((e) => Number(e.resourceVersion));
    expect(revs).toEqual(revs.map((_, i) => Number(start) + 1 + i));
    for (const e of changes) expect((e.object as { resourceVersion: string }).resourceVersion).toBe(e.resourceVersion);
    expect(changes.filter((e) => e.kind === 'Block' && e.type === 'DELETED')).toHaveLength(10);
    const bookmark = events.at(-1)!;
    expect(bookmark).toMatchObject({ type: 'BOOKMARK', kind: 'Bookmark', object: {} });
    expect(Number(bookmark.resourceVersion)).toBeGreaterThanOrEqual(revs.at(-1)!);

    // Resume from the middle: exactly the rest, in order.
    const mid = revs[20]!;
    const resumed = await collect(String(mid), (s) => s.filter((e) => e.type !== 'BOOKMARK').length >= total - 21);
    expect(resumed.filter((e) => e.type !== 'BOOKMARK').map((e) => Number(e.resourceVersion))).toEqual(revs.slice(21));

    // The state a member rebuilds from the events equals the lists.
    const blocks = new Map<string, unknown>();
    for (const e of changes.filter((x) => x.kind === 'Block')) {
      const o = e.object as { id: string };
      if (e.type === 'DELETED') blocks.delete(o.id);
      else blocks.set(o.id, o);
    }
    expect([...blocks.keys()].sort()).toEqual((await broker.admin.listBlocks()).items.map((b) => b.id).sort());
  });

  it('answers 410 WATCH_EXPIRED when since was compacted, and the relist resourceVersion works', async () => {
    await broker.admin.createSubnet({ name: 'c1', cidr: '10.81.0.0/16' });
    await broker.admin.createSubnet({ name: 'c2', cidr: '10.82.0.0/16' });
    const upto = await broker.handle.store.compact(1);
    expect(upto).toBeGreaterThan(1);
    await expect(broker.admin.watch('0', () => undefined)).rejects.toMatchObject({ code: 'WATCH_EXPIRED', status: 410 });
    const relist = await broker.admin.listSubnets();
    const next = collect(relist.resourceVersion, (s) => s.some((e) => e.type === 'ADDED'));
    await broker.admin.createSubnet({ name: 'c3', cidr: '10.83.0.0/16' });
    const ev = await next;
    expect(ev.find((e) => e.type === 'ADDED')).toMatchObject({ kind: 'Subnet', object: { name: 'c3' } });
  });

  it('serves 100 concurrent watchers from one tail reader', async () => {
    const since = (await broker.admin.listSubnets()).resourceVersion;
    const watchers = Array.from({ length: 100 }, () => collect(since, (s) => s.some((e) => e.type === 'ADDED')));
    while (broker.handle.hub!.size < 100) await new Promise((r) => setTimeout(r, 20));
    await broker.admin.createSubnet({ name: 'fan', cidr: '10.84.0.0/16' });
    const all = await Promise.all(watchers);
    for (const evs of all) expect(evs.find((e) => e.type === 'ADDED')).toMatchObject({ object: { name: 'fan' } });
  });
});
