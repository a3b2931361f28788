import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BrokerClient, followBroker, StraitError, type WatchEvent } from '../api/index.js';
import { startTestRedis, waitFor, type TestRedis } from '../testing/index.js';
import { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from './testing.js';

// Two broker replicas on one Redis; a follower given both URLs (`--broker URL,URL`) watches through the first, which
// is stopped mid-watch: the follower goes on at the second from its last resourceVersion, every event exactly once.
let redis: TestRedis;
let a: TestBroker;
let b: TestBroker;

beforeAll(async () => {
  redis = await startTestRedis();
  a = await startTestBroker(redis.socket, { bookmarkMs: 200 });
  b = await startTestBroker(redis.socket, { bookmarkMs: 200 });
});
afterAll(async () => {
  await b?.stop();
  await a?.stop().catch(() => undefined);
  await redis?.stop();
});

describe('agents follow broker replicas', () => {
  it('a client with two URLs moves to the second when the first stops, and the watch resumes with no missed or repeated event', async () => {
    const client = new BrokerClient({ baseUrl: `${a.handle.url},${b.handle.url}`, token: TEST_ADMIN_TOKEN, retries: 2 });
    const writer = b.client(TEST_ADMIN_TOKEN);
    const seen: WatchEvent[] = [];
    const breaks: Error[] = [];
    let relisted = 0;
    let stopped = false;
    const abort = new AbortController();
    const start = (await client.listSubnets()).resourceVersion;
    expect(client.baseUrl).toBe(a.handle.url);
    const loop = followBroker({
      since: start,
      watch: (since, f, signal) => client.watch(since, f, signal),
      relist: async () => {
        relisted++;
        return (await client.listSubnets()).resourceVersion;
      },
      onEvent: (e) => {
        if (e.type !== 'BOOKMARK') seen.push(e);
      },
      onRelisted: () => undefined,
      onBreak: (e) => breaks.push(e),
      stopped: () => stopped,
      signal: abort.signal,
      retryMs: 50,
    });
    const N = 40;
    for (let i = 0; i < N; i++) {
      await writer.createSubnet({ name: `s${i}`, cidr: `10.${i}.0.0/16` });
      if (i === N / 2) {
        await waitFor('the follower to see half the writes', () => seen.length > N / 4);
        await a.stop();
      }
    }
    await waitFor('every write at the follower', () => seen.length >= N, 20_000);
    await new Promise((r) => setTimeout(r, 300)); // a repeated event would arrive now
    stopped = true;
    abort.abort();
    await loop;
    client.close();

    expect(seen.map((e) => (e.object as { name: string }).name)).toEqual(Array.from({ length: N }, (_, i) => `s${i}`));
    const revs = seen.map((e) => Number(e.resourceVersion));
    expect(revs).toEqual(revs.map((_, i) => revs[0]! + i)); // contiguous: nothing missed, nothing twice
    expect(relisted).toBe(0);
    expect(breaks.length).toBeGreaterThan(0);
    expect(breaks.every((e) => e instanceof StraitError && e.code === 'UNAVAILABLE')).toBe(true);
    expect(client.baseUrl).toBe(b.handle.url);
  }, 60_000);

  it('writes go on at the next URL with the same Idempotency-Key, and a URL list with a bad entry is refused', async () => {
    const dead = 'http://127.0.0.1:1';
    const client = new BrokerClient({ baseUrl: `${dead},${b.handle.url}`, token: TEST_ADMIN_TOKEN, retries: 1 });
    const p = await client.createSubnet({ name: 'after-failover', cidr: '10.200.0.0/16' });
    expect(p.name).toBe('after-failover');
    expect(client.baseUrl).toBe(b.handle.url);
    client.close();
    expect(() => new BrokerClient({ baseUrl: `${b.handle.url},not a url` })).toThrow(/not a broker URL/);
    // All replicas down: UNAVAILABLE after trying each, nothing changed.
    const none = new BrokerClient({ baseUrl: `${dead},http://127.0.0.1:2`, token: TEST_ADMIN_TOKEN, retries: 1 });
    await expect(none.listSubnets()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    none.close();
  }, 30_000);
});
