import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Command, Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../../testing/index.js';
import { BrokerStore } from '../broker-store.js';
import { bulk, EncodedEvalsha, scriptSha } from './encoded-evalsha.js';

let redis: TestRedis;
let conn: Redis;
let store: BrokerStore;

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  store = new BrokerStore(conn, '{e}:');
});
afterAll(async () => {
  conn.disconnect();
  await redis.stop();
});

describe('EncodedEvalsha', () => {
  it('writes byte for byte what ioredis writes for the same EVALSHA (multi-byte text counted in bytes)', () => {
    const args = ['{e}:a', '{e}:bé', '', 600000, 'pool', 'nœud-ü', 1];
    const sha = scriptSha('return 1');
    const ours = new EncodedEvalsha(`*${3 + args.length}\r\n${bulk(['evalsha', sha, 3, ...args])}`).toWritable();
    const theirs = new Command('evalsha', [sha, 3, ...args]).toWritable({} as never);
    expect(ours).toBe(theirs);
  });

  it('leases after Redis forgot the scripts (SCRIPT FLUSH): NOSCRIPT sends the call again the ordinary way', async () => {
    await conn.hset('{e}:o:Cluster', 'c1', '{"resourceVersion":"1","id":"c1"}');
    await store.createPool({ name: 'p', cidr: '10.9.0.0/16', blockSize: 28, purpose: 'pods' });
    const first = await store.leaseBlock('p', 'c1', 'n1');
    await conn.script('FLUSH');
    const second = await store.leaseBlock('p', 'c1', 'n1', { key: 'k1', fingerprint: 'f1' });
    expect(second.cidr).not.toBe(first.cidr);
    // Recorded under its Idempotency-Key by the script that ran after the reload: a retry answers the same lease.
    expect(await store.leaseBlock('p', 'c1', 'n1', { key: 'k1', fingerprint: 'f1' })).toEqual(second);
    expect(await conn.hlen('{e}:o:Block')).toBe(2);
  });
});
