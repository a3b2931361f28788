import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startTestRedis, waitFor, type TestRedis } from '../testing/index.js';
import { BrokerStore } from './broker-store.js';
import { WatchHub, type WatchCloseReason, type WatchSink } from './watch-hub.js';

// The hub's hand-over from catch-up to live delivery, with the two Redis answers in the order a loaded broker can
// see them: the catch-up's XRANGE was answered before a write, but its answer is processed after the tail reader's
// XREAD answer for that write (two connections: Node reads their sockets in any order). bench:scale met this
// with 16 watchers opening while a pool change was written: the watcher was closed as if the log had a gap, and its
// client saw the watch end without the change.

let redis: TestRedis;
let conn: Redis;
let store: BrokerStore;
let hub: WatchHub;

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  store = new BrokerStore(conn, '{wh}:');
  hub = new WatchHub(store, { bookmarkMs: 60_000 });
  await hub.start();
});
afterAll(async () => {
  await hub?.stop();
  conn?.disconnect();
  await redis?.stop();
});

/** A sink that keeps what it was sent. */
function recordingSink(): WatchSink & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (l) => (lines.push(...l.split('\n').filter(Boolean)), true), drained: () => Promise.resolve() };
}
const revs = (lines: string[]): number[] => lines.map((l) => Number((JSON.parse(l) as { resourceVersion: string }).resourceVersion));

describe('watch hub', () => {
  it('a catch-up read answered before a write, processed after the tail reader saw it, goes live without a gap', async () => {
    await store.createSubnet({ name: 'before', cidr: '10.70.0.0/16' });
    const since = Number(await store.currentRev());
    // A watcher already live: it tells when the tail reader has fanned the write out.
    const live = recordingSink();
    const first = await hub.subscribe(since, live);
    await store.createSubnet({ name: 'probe', cidr: '10.71.0.0/16' });
    await waitFor('the first watcher to get the probe', () => live.lines.length > 0, 10_000);
    const from = Number(await store.currentRev());

    // The second watcher's first catch-up read is held back until the next write has reached the live watcher.
    const original = store.eventsAfter;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let reads = 0;
    (store as { eventsAfter: BrokerStore['eventsAfter'] }).eventsAfter = async (after, count) => {
      const events = await original(after, count);
      if (reads++ === 0) await held;
      return events;
    };
    try {
      const sink = recordingSink();
      const second = await hub.subscribe(from, sink);
      let closedWith: WatchCloseReason | undefined;
      void second.closed.then((r) => (closedWith = r));
      await waitFor('the held catch-up read', () => reads === 1, 10_000);
      const seenBefore = live.lines.length;
      await store.createSubnet({ name: 'during', cidr: '10.72.0.0/16' });
      await waitFor('the tail reader to fan the write out', () => live.lines.length > seenBefore, 10_000);
      release();
      await waitFor('the second watcher to get the write', () => sink.lines.length > 0 || closedWith !== undefined, 10_000);
      expect(closedWith).toBeUndefined();
      expect(revs(sink.lines)).toEqual([from + 1]);
      // …and it is live: the next write reaches it once.
      await store.createSubnet({ name: 'after', cidr: '10.73.0.0/16' });
      await waitFor('the next write', () => sink.lines.length > 1, 10_000);
      expect(revs(sink.lines)).toEqual([from + 1, from + 2]);
      second.close();
    } finally {
      (store as { eventsAfter: BrokerStore['eventsAfter'] }).eventsAfter = original;
      first.close();
    }
  });

  it('still closes a watcher whose catch-up finds the log shorter than what was fanned out (trimmed under it)', async () => {
    const since = Number(await store.currentRev());
    const live = recordingSink();
    const first = await hub.subscribe(since, live);
    await store.createSubnet({ name: 'trimmed-1', cidr: '10.74.0.0/16' });
    await store.createSubnet({ name: 'trimmed-2', cidr: '10.75.0.0/16' });
    await waitFor('the tail reader to fan the writes out', () => live.lines.length === 2, 10_000);
    first.close();
    // The log loses everything after `since` while no compaction point says so (Redis rewound under the broker).
    await conn.xtrim(store.keys.events, 'MAXLEN', 0);
    const sink = recordingSink();
    const h = await hub.subscribe(since, sink);
    expect(await h.closed).toBe('gap');
  });
  it('hands each read\'s events to a live watcher in one write, every event once and in order', async () => {
    const counting = (): WatchSink & { lines: string[]; writes: number } => {
      const sink = { ...recordingSink(), writes: 0 };
      const write = sink.write;
      sink.write = (l: string) => (sink.writes++, write(l));
      return sink;
    };
    const a = counting();
    const b = counting();
    const since = Number(await store.currentRev());
    const ha = await hub.subscribe(since, a);
    const hb = await hub.subscribe(since, b);
    await store.createSubnet({ name: 'fan-out', cidr: '10.76.0.0/16' });
    await waitFor('both watchers to be live', () => a.lines.length === 1 && b.lines.length === 1, 10_000);
    // 20 events in one transaction: the tail reader's blocked XREAD wakes after EXEC and reads them all at once.
    const base = Number(await store.currentRev());
    const tx = conn.multi();
    for (let i = 1; i <= 20; i++) {
      tx.incr(store.keys.rev);
      tx.xadd(store.keys.events, `${base + i}-0`, 't', 'ADDED', 'k', 'Subnet', 'o', `{"resourceVersion":"${base + i}","name":"fan-${i}"}`);
    }
    await tx.exec();
    await waitFor('the 20 events', () => a.lines.length === 21 && b.lines.length === 21, 10_000);
    // One write per read, not one per event (100 live watchers: hundreds of thousands of socket writes a second).
    expect(a.writes).toBe(2);
    expect(b.writes).toBe(2);
    expect(revs(a.lines)).toEqual([base, ...Array.from({ length: 20 }, (_, i) => base + 1 + i)]);
    expect(revs(b.lines)).toEqual(revs(a.lines));
    ha.close();
    hb.close();
  });

  it('gives a live watcher that is ahead of a read only the events after its last one', async () => {
    const sink = recordingSink();
    const since = Number(await store.currentRev());
    const h = await hub.subscribe(since, sink);
    await store.createSubnet({ name: 'ahead', cidr: '10.77.0.0/16' });
    await waitFor('the watcher to be live', () => sink.lines.length === 1, 10_000);
    // As after a catch-up that read past the tail reader: it has seen base+1 and base+2 already.
    const base = Number(await store.currentRev());
    const sub = [...(hub as unknown as { subs: Set<{ sink: WatchSink; last: number }> }).subs].find((x) => x.sink === sink)!;
    sub.last = base + 2;
    const tx = conn.multi();
    for (let i = 1; i <= 4; i++) {
      tx.incr(store.keys.rev);
      tx.xadd(store.keys.events, `${base + i}-0`, 't', 'ADDED', 'k', 'Subnet', 'o', `{"resourceVersion":"${base + i}","name":"ahead-${i}"}`);
    }
    await tx.exec();
    await waitFor('the events after its last one', () => sink.lines.length >= 3, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(revs(sink.lines)).toEqual([base, base + 3, base + 4]);
    h.close();
  });
});
