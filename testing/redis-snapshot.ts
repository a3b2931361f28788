import type { Redis } from 'ioredis';

/**
 * Every key of the connection's database with its DUMP, sorted: two equal snapshots mean nothing changed. The
 * "bad input changes nothing" tests (fuzz, input validation) compare one taken before and after each request.
 */
export async function redisSnapshot(conn: Redis): Promise<string> {
  const keys = (await conn.keys('*')).sort();
  const parts: string[] = [];
  for (const k of keys) parts.push(`${k}=${((await conn.dumpBuffer(k)) ?? Buffer.alloc(0)).toString('hex')}`);
  return parts.join('\n');
}
