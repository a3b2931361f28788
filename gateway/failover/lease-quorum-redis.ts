import type { Redis } from 'ioredis';
import { defineScripts, type LuaScript, type ScriptCall } from '../../broker/index.js';
import { leaseRecordOf, READ_SCRIPT, RELEASE_SCRIPT } from './lease-redis.js';
import type { LeaseRecord } from './lease-store.js';
import type { MemberAcquire, QuorumMember } from './lease-quorum.js';

// The rules of lease-quorum-state.ts as Lua, one script per operation (Redis runs each atomically).
// Keys: KEYS[1] the lease ("<epoch>|<holder>", PX expiry), KEYS[2] the highest epoch this store has seen for it
// (never expires), KEYS[3] the store's boot marker, KEYS[4] its restart guard (PX). A store that restarted without
// its data has no boot marker: the first script to notice sets it and a guard, and nothing is granted until the
// guard ends (a lease this store granted before the restart has run out by then).
const GUARD = `
local function guarded(ms)
  if redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('SET', KEYS[3], '1')
    redis.call('SET', KEYS[4], '1', 'PX', ms)
    return true
  end
  return redis.call('EXISTS', KEYS[4]) == 1
end`;

/** ARGV: holder, ttlMs, guardMs. Reply: {1 granted | 0 held | -1 guarded, this store's epoch now}. */
const ACQUIRE = `${GUARD}
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if guarded(ARGV[3]) then return {-1, cur} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, cur} end
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], e .. '|' .. ARGV[1], 'PX', ARGV[2])
return {1, e}`;

/** ARGV: holder, storeEpoch, epoch, ttlMs. Reply: 1 committed, 0 that grant is gone. */
const COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[2] .. '|' .. ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[3] .. '|' .. ARGV[1], 'PX', ARGV[4])
if tonumber(ARGV[3]) > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], ARGV[3]) end
return 1`;

/** ARGV: holder, epoch, ttlMs, guardMs. Reply: 1 renewed or joined, 0 refused, 2 ran out here (free), -1 guarded. */
const RENEW = `${GUARD}
if guarded(ARGV[4]) then return -1 end
local v = redis.call('GET', KEYS[1])
if v then
  if v ~= ARGV[2] .. '|' .. ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
local seen = tonumber(redis.call('GET', KEYS[2]) or '0')
if seen == tonumber(ARGV[2]) then return 2 end
if seen > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

/** ARGV: holder, epoch, ttlMs, guardMs. Reply: 1 the lease is back here, 0 not (another lease, a higher epoch, guarded). */
const REJOIN = `${GUARD}
if guarded(ARGV[4]) then return 0 end
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[2] .. '|' .. ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
return 1`;


const SCRIPTS: Record<'acquire' | 'commit' | 'renew' | 'rejoin' | 'release' | 'read', LuaScript> = {
  acquire: { name: 'acquire', numberOfKeys: 4, lua: ACQUIRE },
  commit: { name: 'commit', numberOfKeys: 2, lua: COMMIT },
  renew: { name: 'renew', numberOfKeys: 4, lua: RENEW },
  rejoin: { name: 'rejoin', numberOfKeys: 4, lua: REJOIN },
  release: RELEASE_SCRIPT,
  read: READ_SCRIPT,
};

/**
 * One quorum store on a Redis of its own. Run it without persistence (`--save '' --appendonly no`): a restart then
 * always comes back empty and guarded. With an AOF fsynced once a second, a restart could come back with its boot
 * marker but without a grant of its last second, and grant that lease twice.
 * Keys: `<prefix>qlease:<key>`, `<prefix>qepoch:<key>`, `<prefix>qboot`, `<prefix>qguard`.
 */
export class RedisQuorumMember implements QuorumMember {
  private readonly s: Record<keyof typeof SCRIPTS, ScriptCall>;

  constructor(
    readonly name: string,
    redis: Redis,
    private readonly prefix = 'strait:',
  ) {
    this.s = defineScripts(redis, 'strait_qlease', SCRIPTS);
  }

  private keys(key: string): [string, string, string, string] {
    const p = this.prefix;
    return [`${p}qlease:${key}`, `${p}qepoch:${key}`, `${p}qboot`, `${p}qguard`];
  }

  async acquire(key: string, holder: string, ttlMs: number, guardMs: number): Promise<MemberAcquire> {
    const [code, epoch] = (await this.s.acquire(...this.keys(key), holder, Math.ceil(ttlMs), Math.ceil(guardMs))) as [number, number];
    return { result: code === 1 ? 'granted' : code === 0 ? 'held' : 'guarded', epoch: Number(epoch) };
  }

  async commit(key: string, holder: string, storeEpoch: number, epoch: number, ttlMs: number): Promise<boolean> {
    const [k, e] = this.keys(key);
    return Number(await this.s.commit(k, e, holder, storeEpoch, epoch, Math.ceil(ttlMs))) === 1;
  }

  async renew(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): Promise<number> {
    return Number(await this.s.renew(...this.keys(key), holder, epoch, Math.ceil(ttlMs), Math.ceil(guardMs)));
  }

  async rejoin(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): Promise<boolean> {
    return Number(await this.s.rejoin(...this.keys(key), holder, epoch, Math.ceil(ttlMs), Math.ceil(guardMs))) === 1;
  }

  async release(key: string, holder: string, epoch: number): Promise<boolean> {
    const [k] = this.keys(key);
    return Number(await this.s.release(k, holder, epoch)) === 1;
  }

  async read(key: string): Promise<LeaseRecord | null> {
    const [k] = this.keys(key);
    return leaseRecordOf(await this.s.read(k));
  }
}
