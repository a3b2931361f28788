import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';
import { sleep, startTestRedis, waitFor, type TestRedis } from '../testing/index.js';
import { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from './testing.js';

// Watchers that stop reading (issue #10 item 3) and `since` forms (item 13), against a real redis-server and the
// broker over real HTTP. The limits are small here so the tests move megabytes, not gigabytes.
const BACKLOG = 256 * 1024;
const PAGE = 20;
const EVENT_BYTES = 8 * 1024;

let redis: TestRedis;
let broker: TestBroker;
let conn: Redis;
let port = 0;

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket, { bookmarkMs: 200, limits: { watchBacklogBytes: BACKLOG, catchUpPage: PAGE, watchesPerCredential: 6 } });
  conn = new Redis({ path: redis.socket });
  port = Number(new URL(broker.handle.url).port);
});
afterAll(async () => {
  conn?.disconnect();
  await broker?.stop();
  await redis?.stop();
});

/** Appends `n` events of about EVENT_BYTES each to the log the way the Lua scripts do (rev, then XADD <rev>-0). */
async function appendEvents(n: number): Promise<void> {
  const pad = 'x'.repeat(EVENT_BYTES);
  for (let done = 0; done < n; done += 200) {
    const m = Math.min(200, n - done);
    const start = await conn.incrby('{strait}:rev', m);
    const p = conn.pipeline();
    for (let i = 0; i < m; i++) {
      const rev = start - m + 1 + i;
      p.xadd('{strait}:events', `${rev}-0`, 't', 'ADDED', 'k', 'Subnet', 'o', JSON.stringify({ resourceVersion: String(rev), name: `pad${rev}`, description: pad }));
    }
    await p.exec();
  }
}

/** A watch over a raw socket that reads nothing after the request (kernel buffers fill, then the broker's). */
function pausedWatch(query: string, token = TEST_ADMIN_TOKEN): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`GET /v1/watch${query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.on('error', () => undefined); // a reset is what we expect for a cut-off watcher
    s.once('error', reject);
  });
}

/** The broker-side TCP state of the connection from `local` (from /proc/net/tcp): '01' established, undefined gone. */
function serverSideState(local: number): string | undefined {
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex(port)}`) && f[2]?.endsWith(`:${hex(local)}`)) return f[3];
  }
  return undefined;
}

async function metricsTimed(): Promise<{ ms: number; text: string }> {
  const t0 = performance.now();
  const text = await broker.admin.metrics();
  return { ms: performance.now() - t0, text };
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

async function get(path: string, token = TEST_ADMIN_TOKEN): Promise<{ status: number; code: string | undefined }> {
  const ac = new AbortController();
  const r = await fetch(`${broker.handle.url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  if (r.status === 200) {
    ac.abort();
    return { status: 200, code: undefined };
  }
  return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
}

describe('watchers that stop reading', () => {
  it('catch-up from far back pages through the log: bounded backlog per paused watcher, /metrics keeps answering', async () => {
    const since = Number(await broker.handle.store.currentRev());
    await appendEvents(2000); // ~16 MB of log behind each watcher
    const rss0 = process.memoryUsage().rss;
    const paused = await Promise.all(Array.from({ length: 5 }, () => pausedWatch(`?since=${since}`)));
    try {
      await waitFor('five watchers', () => broker.handle.hub!.size === 5);
      // Let them fill their sockets and start pacing (slow on a loaded machine).
      await waitFor('a paced catch-up', async () => metric(await broker.admin.metrics(), 'strait_broker_watch_backlog_bytes{stat="max"}') > PAGE * EVENT_BYTES, 30_000, 200);
      await sleep(500);
      const times: number[] = [];
      let last = '';
      for (let i = 0; i < 10; i++) {
        const m = await metricsTimed();
        times.push(m.ms);
        last = m.text;
      }
      // Paced, not cut off: a catch-up writes its next page only after a drain.
      expect(broker.handle.hub!.size).toBe(5);
      // Each paused catch-up holds at most half its cap plus one page (the next page waits until the queue is
      // under min(cap/2, 256 KiB)), far below the cap a live watcher may reach before it is cut off.
      const max = metric(last, 'strait_broker_watch_backlog_bytes{stat="max"}');
      const held = BACKLOG / 2 + PAGE * (EVENT_BYTES + 200);
      expect(max).toBeGreaterThan(0);
      expect(max).toBeLessThanOrEqual(held);
      expect(metric(last, 'strait_broker_watch_backlog_bytes{stat="sum"}')).toBeLessThanOrEqual(5 * held);
      // The whole log per watcher would be 5 x 16 MB; allow for everything else the test process does.
      expect(process.memoryUsage().rss - rss0).toBeLessThan(60 * 1024 * 1024);
      // (Generous: a loaded 2-core machine; the unfixed broker took seconds.)
      expect(Math.max(...times)).toBeLessThan(1000);
      // A reading client still gets the whole catch-up, in order.
      const revs: number[] = [];
      const ac = new AbortController();
      const end = Number(await broker.handle.store.currentRev());
      await broker.admin.watch(String(since), (e) => {
        if (e.type !== 'BOOKMARK') revs.push(Number(e.resourceVersion));
        if (revs.at(-1) === end) ac.abort();
      }, ac.signal);
      expect(revs).toEqual(Array.from({ length: end - since }, (_, i) => since + 1 + i));
    } finally {
      for (const s of paused) s.destroy();
    }
    await waitFor('paused watchers gone', () => broker.handle.hub!.size === 0);
  });

  it('with a large cap, a paused catch-up still holds about one page, not half the cap', async () => {
    // The default cap is 8 MiB; pacing catch-up at cap/2 let every paused catch-up keep 4-8 MiB (bench: +12.2 MB RSS
    // each). A second broker replica on the same Redis with a 4 MiB cap, behind ~16 MB of log.
    const big = await startTestBroker(redis.socket, { bookmarkMs: 200, limits: { watchBacklogBytes: 4 * 1024 * 1024, catchUpPage: PAGE } });
    const since = Number(await big.handle.store.currentRev());
    await appendEvents(2000);
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect(Number(new URL(big.handle.url).port), '127.0.0.1', () => {
        c.write(`GET /v1/watch?since=${since} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_ADMIN_TOKEN}\r\n\r\n`);
        c.pause();
        resolve(c);
      });
      c.on('error', () => undefined);
      c.once('error', reject);
    });
    try {
      const backlog = async (): Promise<number> => metric(await big.admin.metrics(), 'strait_broker_watch_backlog_bytes{stat="max"}');
      await waitFor('the catch-up fills the sockets and waits', async () => (await backlog()) > PAGE * EVENT_BYTES, 30_000, 200);
      await sleep(1500);
      // Low water 256 KiB plus one page; without it the queue grows to 2 MiB and more.
      expect(await backlog()).toBeLessThanOrEqual(256 * 1024 + PAGE * (EVENT_BYTES + 200));
      expect(big.handle.hub!.size).toBe(1);
    } finally {
      s.destroy();
      await big.stop();
    }
  });

  it('a live watcher that stops reading is cut off and its socket closed, while the broker keeps answering', async () => {
    const paused = await pausedWatch('');
    const local = paused.localPort!;
    try {
      await waitFor('watcher registered', () => broker.handle.hub!.size === 1);
      expect(serverSideState(local)).toBe('01');
      const cutBefore = metric(await broker.admin.metrics(), 'strait_broker_watches_cut_off_total');
      // Far more than the cap plus what the kernel buffers on both ends can hold.
      const writing = appendEvents(4000);
      const times: number[] = [];
      while (broker.handle.hub!.size > 0) {
        times.push((await metricsTimed()).ms);
        await sleep(50);
        if (times.length > 600) throw new Error('the paused watcher was never dropped');
      }
      await writing;
      // Dropped from the hub AND its connection closed on the broker side (not kept open with its backlog).
      await waitFor('server side of the paused watch closed', () => serverSideState(local) !== '01');
      expect(metric(await broker.admin.metrics(), 'strait_broker_watches_cut_off_total')).toBe(cutBefore + 1);
      expect(metric(await broker.admin.metrics(), 'strait_broker_watch_backlog_bytes{stat="sum"}')).toBe(0);
      times.sort((a, b) => a - b);
      expect(times[Math.floor(times.length * 0.99)] ?? 0).toBeLessThan(1000);
    } finally {
      paused.destroy();
    }
  });
});

describe('watch limits per credential and since forms', () => {
  it('caps the open watches per credential with 429 TOO_MANY_WATCHES; other credentials are not affected', async () => {
    const t = await broker.admin.createToken();
    const west = (await broker.admin.joinCluster({ id: 'west', podCIDRs: ['10.2.0.0/16'] }, t.token)).credentials.token;
    const held = await Promise.all(Array.from({ length: 6 }, () => pausedWatch('', west)));
    try {
      await waitFor('six watches', () => broker.handle.hub!.size === 6);
      expect(await get('/v1/watch', west)).toEqual({ status: 429, code: 'TOO_MANY_WATCHES' });
      expect((await get('/v1/watch')).status).toBe(200);
      held.pop()!.destroy();
      await waitFor('a slot freed', () => broker.handle.hub!.size === 5);
      expect((await get('/v1/watch', west)).status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
    }
  });

  it('refuses since ahead of the current revision, repeated or bracketed with 400 WATCH_SINCE_INVALID', async () => {
    const rev = Number(await broker.handle.store.currentRev());
    for (const q of [`since=${rev + 1}`, 'since=1&since=2', 'since[]=1', 'since[0]=1', 'since=-1', 'since=1e3', 'since=']) {
      expect([q, await get(`/v1/watch?${q}`)]).toEqual([q, { status: 400, code: 'WATCH_SINCE_INVALID' }]);
    }
    expect((await get(`/v1/watch?since=${rev}`)).status).toBe(200);
  });
});
