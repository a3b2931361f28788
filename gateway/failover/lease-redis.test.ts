import { afterAll, beforeAll } from '@jest/globals';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../../testing/index.js';
import { leaseStoreConformance } from './lease-store.conformance.js';
import { RedisLeaseStore } from './lease-redis.js';

let redis: TestRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startTestRedis();
  client = new Redis({ path: redis.socket });
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

leaseStoreConformance('redis (real redis-server)', () => ({
  store: new RedisLeaseStore(client, `t-${Date.now()}:`),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
}));
