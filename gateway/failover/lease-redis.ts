import type { Redis } from 'ioredis';
import { StraitError } from '../../api/index.js';
import { defineScripts, type LuaScript, type ScriptCall } from '../../broker/index.js';
import type { LeaseRecord, LeaseStore } from './lease-store.js';

// One Lua script per operation: Redis runs each atomically, so compare-and-set needs no WATCH/MULTI retries. They
// are registered once per connection (EVALSHA through the broker's script loader), not sent whole per renewal.
// The lease value is "<epoch>|<holder>" with PX expiry; the epoch counter is a separate key that never expires,
// so epochs keep growing across expiries and releases.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], epoch .. '|' .. ARGV[1], 'PX', ARGV[2])
return epoch`;

const RENEW = `
local v = redis.call('GET', KEYS[1])
if v ~= ARGV[2] .. '|' .. ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** KEYS: [1] lease. ARGV: holder, epoch. Reply: 1 released, 0 not held so. Also the quorum members' release. */
export const RELEASE_SCRIPT: LuaScript = {
  name: 'release',
  numberOfKeys: 1,
  lua: `
local v = redis.call('GET', KEYS[1])
if v ~= ARGV[2] .. '|' .. ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`,
};

/** KEYS: [1] lease. Reply: nil, or {value, pttl} (see leaseRecordOf). Also the quorum members' read. */
export const READ_SCRIPT: LuaScript = {
  name: 'read',
  numberOfKeys: 1,
  lua: `
local v = redis.call('GET', KEYS[1])
if not v then return nil end
return {v, redis.call('PTTL', KEYS[1])}`,
};

/** A READ_SCRIPT reply as the record it stands for. */
export function leaseRecordOf(reply: unknown): LeaseRecord | null {
  const r = reply as [string, number] | null;
  if (!r) return null;
  const [v, pttl] = r;
  const bar = v.indexOf('|');
  return { epoch: Number(v.slice(0, bar)), holder: v.slice(bar + 1), remainingMs: Number(pttl) };
}

/** KEYS: [1] lease, [2] epoch (acquire only). ARGV: holder, then ttlMs (acquire) or epoch[, ttlMs]. */
const LEASE_SCRIPTS: Record<'acquire' | 'renew' | 'release' | 'read', LuaScript> = {
  acquire: { name: 'acquire', numberOfKeys: 2, lua: ACQUIRE },
  renew: { name: 'renew', numberOfKeys: 1, lua: RENEW },
  release: RELEASE_SCRIPT,
  read: READ_SCRIPT,
};

/**
 * ioredis `retryStrategy` for the lease store connection: 15 ms, 25 ms, … capped at 100 ms. A lease store back
 * after a restart is used within ~10 ms; a store down for long costs at most 10 connection attempts a second.
 */
export function leaseStoreRetryMs(attempt: number): number {
  return Math.min(5 + attempt * 10, 100);
}

/** Lease store on a Redis of its own. Keys: `<prefix>lease:<key>` and `<prefix>lease-epoch:<key>`. */
export class RedisLeaseStore implements LeaseStore {
  private readonly scripts: Record<keyof typeof LEASE_SCRIPTS, ScriptCall>;

  constructor(
    redis: Redis,
    private readonly prefix = 'strait:',
  ) {
    this.scripts = defineScripts(redis, 'strait_lease', LEASE_SCRIPTS);
  }

  /** Every store failure is one catalogued error; holders treat it as "could not renew" and run out safely. */
  private async eval(script: keyof typeof LEASE_SCRIPTS, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.scripts[script](...keys, ...args);
    } catch (e) {
      throw new StraitError('GATEWAY_LEASE_UNAVAILABLE', `lease store: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
    }
  }

  private keys(key: string): [string, string] {
    return [`${this.prefix}lease:${key}`, `${this.prefix}lease-epoch:${key}`];
  }

  async acquire(key: string, holder: string, ttlMs: number): Promise<{ epoch: number } | false> {
    const [k, e] = this.keys(key);
    const r = Number(await this.eval('acquire', [k, e], [holder, String(Math.ceil(ttlMs))]));
    return r > 0 ? { epoch: r } : false;
  }

  async renew(key: string, holder: string, epoch: number, ttlMs: number): Promise<boolean> {
    const [k] = this.keys(key);
    return Number(await this.eval('renew', [k], [holder, String(epoch), String(Math.ceil(ttlMs))])) === 1;
  }

  async release(key: string, holder: string, epoch: number): Promise<boolean> {
    const [k] = this.keys(key);
    return Number(await this.eval('release', [k], [holder, String(epoch)])) === 1;
  }

  async read(key: string): Promise<LeaseRecord | null> {
    const [k] = this.keys(key);
    return leaseRecordOf(await this.eval('read', [k], []));
  }
}
