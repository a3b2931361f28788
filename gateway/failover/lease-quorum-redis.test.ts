import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { sleep, startTestRedis, type TestRedis } from '../../testing/index.js';
import { leaseStoreConformance } from './lease-store.conformance.js';
import { QuorumLeaseStore } from './lease-quorum.js';
import { RedisQuorumMember } from './lease-quorum-redis.js';
import { leaseStoreRetryMs } from './lease-redis.js';

// Three real redis-servers that share nothing, as the gateway agents use them (same connection options).
let servers: TestRedis[] = [];
let clients: Redis[] = [];
const PREFIX = `t-${Date.now()}:`;
const GUARD_MS = 10_000;

beforeAll(async () => {
  servers = await Promise.all([0, 1, 2].map(() => startTestRedis()));
  clients = servers.map((s) => new Redis({ path: s.socket, maxRetriesPerRequest: 1, enableOfflineQueue: true, retryStrategy: leaseStoreRetryMs }));
  // Booted long ago: out of the first-start guard (its own test below restarts one for real).
  for (const c of clients) await c.set(`${PREFIX}qboot`, '1');
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of servers) {
    try {
      process.kill(s.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    await s.stop();
  }
});

const quorum = (timeoutMs = 2000): QuorumLeaseStore =>
  new QuorumLeaseStore(clients.map((c, i) => new RedisQuorumMember(`r${i}`, c, PREFIX)), { guardMs: GUARD_MS, timeoutMs });

leaseStoreConformance('quorum of 3 (real redis-servers)', () => ({
  store: quorum(),
  sleep: (ms) => sleep(ms),
}));

describe('quorum lease store on real redis-servers: one store lost', () => {
  it('SIGSTOP of one store: renewals go on without waiting for it', async () => {
    const store = quorum(2000);
    const a = await store.acquire('stop', 'gw1', 5000);
    if (a === false) throw new Error('not granted');
    process.kill(servers[0]!.pid, 'SIGSTOP');
    try {
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) expect(await store.renew('stop', 'gw1', a.epoch, 5000)).toBe(true);
      // Ten renewals, none waited for the 2 s per-store timeout.
      expect(performance.now() - t0).toBeLessThan(1500);
      expect(await quorum(2000).acquire('stop', 'gw2', 5000)).toBe(false);
    } finally {
      process.kill(servers[0]!.pid, 'SIGCONT');
    }
  });

  it('SIGKILL of one store, then back empty: the holder renews throughout; the store is guarded, then joins', async () => {
    // The whole quorum with a short guard (and a lease shorter than it, as the store requires): a renewal sent while
    // the store was dead waits in the client's offline queue and may be the first command the restarted store runs,
    // setting the guard with the quorum's own guardMs (CI, 2026-12-06: with 10 s there the store was still guarded
    // when this test and the next one read it).
    // Lease and per-store timeout are seconds, not a few hundred ms: npm test runs this beside labs whose agents are
    // realtime, and a fresh-clone run (2026-12-06, cd6fba9) saw the 250 ms lease run out between the acquire and
    // the first renewal. Reproduced with `chrt -r 20 stress-ng --cpu 2 --cpu-load 90` beside this file alone.
    const guardMs = 2500;
    const ttl = 2000;
    const store = new QuorumLeaseStore(clients.map((c, i) => new RedisQuorumMember(`r${i}`, c, PREFIX)), { guardMs, timeoutMs: 2000 });
    const a = await store.acquire('kill', 'gw1', ttl);
    if (a === false) throw new Error('not granted');
    await servers[2]!.kill();
    let dead = true;
    try {
      expect(await store.renew('kill', 'gw1', a.epoch, ttl)).toBe(true);
      await servers[2]!.restart(); // no persistence: back empty
      dead = false;
      const member = new RedisQuorumMember('r2', clients[2]!, PREFIX);
      // The first request after an empty restart finds the boot marker gone: guarded.
      let guarded = 0;
      for (let i = 0; i < 50 && guarded === 0; i++) {
        expect(await store.renew('kill', 'gw1', a.epoch, ttl)).toBe(true); // the other two carry the lease meanwhile
        const r = await member.renew('kill', 'gw1', a.epoch, ttl, guardMs).catch(() => undefined);
        if (r === -1) guarded = 1;
        else await sleep(20);
      }
      expect(guarded).toBe(1);
      expect(await member.acquire('other', 'gw2', 100, guardMs)).toMatchObject({ result: 'guarded' }); // nothing granted inside the guard
      // Renewing through the other two past the guard; then the store joins (the rejoin follows a majority's renewal).
      let joined = null;
      const end = Date.now() + guardMs + 3000;
      while (!joined && Date.now() < end) {
        expect(await store.renew('kill', 'gw1', a.epoch, ttl)).toBe(true);
        await sleep(50);
        joined = await member.read('kill');
      }
      expect(joined).toMatchObject({ holder: 'gw1', epoch: a.epoch });
    } finally {
      // A failure above must not fail the next test too: back, and out of its guard as in beforeAll.
      if (dead) {
        await servers[2]!.restart();
        await clients[2]!.set(`${PREFIX}qboot`, '1');
        await clients[2]!.del(`${PREFIX}qguard`);
      }
    }
  });

  it('a store where the lease ran out answers 2 and changes nothing; rejoin puts the lease back (not past a higher epoch)', async () => {
    const store = quorum();
    const a = await store.acquire('lapse', 'gw1', 5000);
    if (a === false) throw new Error('not granted');
    const member = new RedisQuorumMember('r1', clients[1]!, PREFIX);
    await clients[1]!.del(`${PREFIX}qlease:lapse`); // as if it ran out there while cut off
    expect(await member.renew('lapse', 'gw1', a.epoch, 5000, GUARD_MS)).toBe(2);
    expect(await member.read('lapse')).toBeNull();
    expect(await store.renew('lapse', 'gw1', a.epoch, 5000)).toBe(true);
    let back = null;
    for (let i = 0; i < 50 && !back; i++) {
      back = await member.read('lapse');
      if (!back) await sleep(10);
    }
    expect(back).toMatchObject({ holder: 'gw1', epoch: a.epoch });
    await clients[1]!.del(`${PREFIX}qlease:lapse`);
    await clients[1]!.set(`${PREFIX}qepoch:lapse`, String(a.epoch + 5));
    expect(await member.rejoin('lapse', 'gw1', a.epoch, 5000, GUARD_MS)).toBe(false);
    expect(await member.renew('lapse', 'gw1', a.epoch, 5000, GUARD_MS)).toBe(0);
  });
});
