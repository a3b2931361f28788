import type { Redis } from 'ioredis';

/** What Redis did while a piece of code ran. */
export interface RedisWork {
  /** Commands run, by INFO commandstats name (`hscan`, `config|resetstat`), those run inside scripts included. */
  calls: Record<string, number>;
  total: number;
  /** Bytes Redis sent to its clients (total_net_output_bytes). */
  outBytes: number;
}

/**
 * The Redis work `fn` caused, measured on the Redis side through `probe` (a connection of the test's own, not the
 * one `fn` uses), so neither a client-side listing nor a listing inside a script passes unseen. The probe's own
 * INFO and CONFIG calls are left out. Resets Redis' command statistics.
 */
export async function redisWork(probe: Redis, fn: () => Promise<unknown>): Promise<RedisWork> {
  const outBytes = async (): Promise<number> => Number(/total_net_output_bytes:(\d+)/.exec(await probe.info('stats'))?.[1]);
  await probe.config('RESETSTAT');
  const before = await outBytes();
  await fn();
  const after = await outBytes();
  const calls: Record<string, number> = {};
  for (const m of (await probe.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  for (const own of ['info', 'config|resetstat', 'config']) delete calls[own];
  return { calls, total: Object.values(calls).reduce((a, b) => a + b, 0), outBytes: after - before };
}
