import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StraitError } from '../api/index.js';
import { startTestRedis, type TestRedis } from '../testing/index.js';
import { startTestBroker, type TestBroker } from './testing.js';

// A broker told to wait for one replica, on a Redis that has none: every write runs on the primary, and its answer
// must say that it may be lost (OUTCOME_UNKNOWN), never success. The Sentinel failover test covers the case with
// replicas (broker/sentinel-failover.test.ts).
let redis: TestRedis;
let waiting: TestBroker;
let plain: TestBroker;

beforeAll(async () => {
  redis = await startTestRedis();
  waiting = await startTestBroker(redis.socket, { replicaAck: { replicas: 1, timeoutMs: 150 } });
  plain = await startTestBroker(redis.socket);
});
afterAll(async () => {
  await waiting?.stop();
  await plain?.stop();
  await redis?.stop();
});

describe('writes wait for replicas (WAIT)', () => {
  it('answers OUTCOME_UNKNOWN when no replica confirms the write in time, though the primary ran it', async () => {
    const client = waiting.client('test-admin-token-0123456789');
    const err = await client.createSubnet({ name: 'unconfirmed', cidr: '10.50.0.0/16' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StraitError);
    expect((err as StraitError).code).toBe('OUTCOME_UNKNOWN');
    expect((err as StraitError).message).toMatch(/reached 0 of 1 replicas/);
    // It happened on the primary (which is why the answer is not UNAVAILABLE).
    expect((await plain.admin.getSubnet('unconfirmed')).cidr).toBe('10.50.0.0/16');
    // Token creation (a MULTI, not a script) waits too.
    await expect(client.createToken({ uses: 1 })).rejects.toMatchObject({ code: 'OUTCOME_UNKNOWN' });
    // Reads do not wait.
    expect((await client.listSubnets()).items.map((s) => s.name)).toContain('unconfirmed');
  }, 30_000);

  it('a broker without replica acknowledgement answers at once (the default without Sentinel)', async () => {
    expect((await plain.admin.createSubnet({ name: 'confirmed', cidr: '10.51.0.0/16' })).name).toBe('confirmed');
  });
});
