import type { Redis } from 'ioredis';
import type { AllocationRecord, AllocationStore, BlockLease } from '../ipam/index.js';

type Fn = (...args: string[]) => Promise<number>;

// Compare-and-set scripts: the owner check and the write are one atomic step, so racing callers never both win.
const RESERVE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
if cjson.decode(cur)[ARGV[3]] == ARGV[4] then return 1 end
return 0`;
const REPLACE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cjson.decode(cur)[ARGV[2]] ~= ARGV[3] then return 0 end
if ARGV[4] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[4]) end
return 1`;

/**
 * IPAM-core's AllocationStore on Redis (one hash of address → record, one of pool|cidr → block lease), for node
 * agents or brokers that keep per-node allocations in Redis. Passes runAllocationStoreConformance.
 */
export class RedisAllocationStore implements AllocationStore {
  private readonly reserveFn: Fn;
  private readonly replaceFn: Fn;
  private readonly addrKey: string;
  private readonly blockKey: string;

  constructor(
    private readonly redis: Redis,
    prefix = '{strait}:ipam:',
    private readonly ownsConnection = false,
  ) {
    this.addrKey = `${prefix}addr`;
    this.blockKey = `${prefix}blocks`;
    redis.defineCommand('strait_as_reserve', { numberOfKeys: 1, lua: RESERVE });
    redis.defineCommand('strait_as_replace', { numberOfKeys: 1, lua: REPLACE });
    const r = redis as unknown as Record<string, Fn>;
    this.reserveFn = (...a) => r.strait_as_reserve!.call(redis, ...a);
    this.replaceFn = (...a) => r.strait_as_replace!.call(redis, ...a);
  }

  async reserve(record: AllocationRecord): Promise<boolean> {
    return (await this.reserveFn(this.addrKey, record.address, JSON.stringify(record), 'ownerKey', record.ownerKey)) === 1;
  }

  async replace(address: string, expectedOwnerKey: string, next?: AllocationRecord): Promise<boolean> {
    if (next && next.address !== address) throw new Error(`replace: next.address ${next.address} differs from ${address}`);
    return (await this.replaceFn(this.addrKey, address, 'ownerKey', expectedOwnerKey, next ? JSON.stringify(next) : '')) === 1;
  }

  async get(address: string): Promise<AllocationRecord | undefined> {
    const j = await this.redis.hget(this.addrKey, address);
    return j === null ? undefined : (JSON.parse(j) as AllocationRecord);
  }

  async list(filter: { pool?: string; ownerKey?: string; sticky?: string } = {}): Promise<AllocationRecord[]> {
    const all = (await this.redis.hvals(this.addrKey)).map((j) => JSON.parse(j) as AllocationRecord);
    return all.filter(
      (r) =>
        (filter.pool === undefined || r.pool === filter.pool) &&
        (filter.ownerKey === undefined || r.ownerKey === filter.ownerKey) &&
        (filter.sticky === undefined || r.sticky === filter.sticky),
    );
  }

  async leaseBlock(lease: BlockLease): Promise<boolean> {
    return (await this.reserveFn(this.blockKey, `${lease.pool}|${lease.cidr}`, JSON.stringify(lease), 'node', lease.node)) === 1;
  }

  async releaseBlock(pool: string, cidr: string, node: string): Promise<boolean> {
    return (await this.replaceFn(this.blockKey, `${pool}|${cidr}`, 'node', node, '')) === 1;
  }

  async listBlocks(filter: { pool?: string; node?: string } = {}): Promise<BlockLease[]> {
    const all = (await this.redis.hvals(this.blockKey)).map((j) => JSON.parse(j) as BlockLease);
    return all.filter((b) => (filter.pool === undefined || b.pool === filter.pool) && (filter.node === undefined || b.node === filter.node));
  }

  async close(): Promise<void> {
    if (this.ownsConnection) this.redis.disconnect();
  }
}
