import { afterAll, beforeAll } from '@jest/globals';
import { Redis } from 'ioredis';
import { runAllocationStoreConformance, startTestRedis, type TestRedis } from '../testing/index.js';
import { RedisAllocationStore } from './redis-allocation-store.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.stop();
});

let n = 0;
runAllocationStoreConformance('redis', async () => {
  const prefix = `{t${++n}}:ipam:`;
  const open = (): RedisAllocationStore => new RedisAllocationStore(new Redis({ path: redis.socket }), prefix, true);
  return {
    store: open(),
    reopen: async () => open(),
    cleanup: async () => {
      const r = new Redis({ path: redis.socket });
      const keys = await r.keys(`${prefix}*`);
      if (keys.length) await r.del(...keys);
      r.disconnect();
    },
  };
});
