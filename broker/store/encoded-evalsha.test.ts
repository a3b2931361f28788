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

  it('writes the leases of one turn of the event loop together (socket corked until setImmediate), each answered', async () => {
    await conn.hset('{e}:o:Cluster', 'c2', '{"resourceVersion":"1","id":"c2"}');
    await store.createPool({ name: 'q', cidr: '10.8.0.0/16', blockSize: 28, purpose: 'pods' });
    await store.leaseBlock('q', 'c2', 'warm');
    const stream = (conn as unknown as { stream: { writableCorked: number } }).stream;
    const leases = Array.from({ length: 50 }, (_, i) => store.leaseBlock('q', 'c2', `n${i}`));
    expect(stream.writableCorked).toBe(1);
    const got = await Promise.all(leases);
    expect(stream.writableCorked).toBe(0);
    expect(new Set(got.map((b) => b.cidr)).size).toBe(50);
    expect(got.map((b) => b.node)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
  });
});
