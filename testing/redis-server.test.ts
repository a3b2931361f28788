import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from './index.js';

describe('test redis-server', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis({ appendonly: true });
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('is a real server that keeps appendonly data across kill -9 and restart', async () => {
    const c = new Redis({ path: redis.socket, lazyConnect: true, maxRetriesPerRequest: null });
    await c.connect();
    await c.set('k', 'v');
    expect(await c.eval("return redis.call('GET', KEYS[1])", 1, 'k')).toBe('v');
    c.disconnect();
    await redis.kill();
    await redis.restart();
    const d = new Redis({ path: redis.socket });
    expect(await d.get('k')).toBe('v');
    d.disconnect();
  });
});
