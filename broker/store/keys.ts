import type { Kind } from '../../api/index.js';

/**
 * The broker's Redis key schema: every key family spelled once. Names are relative to the store's prefix (default
 * `{strait}:`, whose braces keep every key in one Redis Cluster slot); `BrokerKeys` gives the full names. The Lua
 * scripts in `lua/` build the same families from the prefix they get as ARGV[1] (their headers name the families
 * they touch), so a family renamed here must be renamed there too.
 */
export const KEY = {
  /** global revision counter (every resourceVersion) */
  rev: 'rev',
  /** the event log: a Stream with ids `<rev>-0`, fields t (type), k (kind), o (object JSON) */
  events: 'events',
  /** revision up to which the event log was trimmed */
  compacted: 'compacted',
  /** one hash per kind: name → object JSON */
  objects: (kind: Kind): string => `o:${kind}`,
  /** a join token: hash of the secret, expiry, uses, used */
  token: (id: string): string => `tok:${id}`,
  /** set of join token ids */
  tokens: 'tokens',
  /** cluster id → sha256 of its credential secret */
  creds: 'creds',
  /** cluster id → last heartbeat (ms) */
  heartbeats: 'hb',
  /** cluster id → when it left (ms), for the GC grace */
  left: 'left',
  /** cluster id → its sorted CIDR list, compared on re-join */
  cidrs: 'cidrs',
  /** cluster id → the token it joined with (informational) */
  joinedVia: 'joinedvia',
  /** name → CIDR bounds as fixed-width hex, for overlap checks */
  ranges: (what: 'cluster' | 'subnet' | 'pool'): string => `ranges:${what}`,
  /** subnet → set of its pools */
  subnetPools: (subnet: string): string => `sp:${subnet}`,
  /** pool → geometry (family, groups, prefix, block size, counts) */
  poolMeta: 'pm',
  /** block index → lease id */
  poolBlocks: (pool: string): string => `pb:${pool}`,
  /** address index → ip */
  poolAddresses: (pool: string): string => `pa:${pool}`,
  /** block index → how many single addresses it holds */
  poolAddressBlocks: (pool: string): string => `pab:${pool}`,
  /** owner → ip */
  poolOwners: (pool: string): string => `po:${pool}`,
  /** scan cursors: b (blocks), a (addresses) */
  poolCursor: (pool: string): string => `cur:${pool}`,
  /** ip → `pool|index|owner` */
  addressMeta: 'am',
  /** `<node|owner>:<cluster>` → when the cluster last reported that set (ms) */
  lastReported: 'lr',
  /** the set of live node names / address owners a cluster reported */
  live: (what: 'node' | 'owner', cluster: string): string => `live:${what}:${cluster}`,
  /** the holder index: node name → its block ids / owner → its ips, space-separated (lua/includes/holders.lua) */
  holders: (what: 'node' | 'owner', cluster: string): string => `hold:${what}:${cluster}`,
  /** sorted set of names that hold a lease but are missing from the reported set; score: first seen missing by the GC (ms), +inf before */
  absent: (what: 'node' | 'owner', cluster: string): string => `absent:${what}:${cluster}`,
  /** set of `<node|owner>:<cluster>` whose absent set is not empty: all the owner GC walks */
  absentQueue: 'absentq',
  /** set while the heartbeat script compares a new reported set with the last one */
  liveNext: (what: 'node' | 'owner', cluster: string): string => `livenext:${what}:${cluster}`,
  /** set once the holder index covers the leases written before it existed */
  holdersIndexed: 'holdidx',
  /** name → when the owner GC first saw it missing (ms): the family before the holder index, deleted on sight */
  legacyMissing: (what: 'node' | 'owner', cluster: string): string => `miss:${what}:${cluster}`,
  /** the answer of a write made with an Idempotency-Key (scoped key) */
  idempotency: (scopedKey: string): string => `idem:${scopedKey}`,
} as const;

/** Full key names under one prefix. */
export class BrokerKeys {
  constructor(readonly prefix: string) {}

  of(relative: string): string {
    return this.prefix + relative;
  }
  get rev(): string {
    return this.of(KEY.rev);
  }
  get events(): string {
    return this.of(KEY.events);
  }
  get compacted(): string {
    return this.of(KEY.compacted);
  }
  objects(kind: Kind): string {
    return this.of(KEY.objects(kind));
  }
  token(id: string): string {
    return this.of(KEY.token(id));
  }
  get tokens(): string {
    return this.of(KEY.tokens);
  }
  get creds(): string {
    return this.of(KEY.creds);
  }
  get heartbeats(): string {
    return this.of(KEY.heartbeats);
  }
  get left(): string {
    return this.of(KEY.left);
  }
  get cidrs(): string {
    return this.of(KEY.cidrs);
  }
  get lastReported(): string {
    return this.of(KEY.lastReported);
  }
  live(what: 'node' | 'owner', cluster: string): string {
    return this.of(KEY.live(what, cluster));
  }
  holders(what: 'node' | 'owner', cluster: string): string {
    return this.of(KEY.holders(what, cluster));
  }
  absent(what: 'node' | 'owner', cluster: string): string {
    return this.of(KEY.absent(what, cluster));
  }
  get absentQueue(): string {
    return this.of(KEY.absentQueue);
  }
  get holdersIndexed(): string {
    return this.of(KEY.holdersIndexed);
  }
  idempotency(scopedKey: string): string {
    return this.of(KEY.idempotency(scopedKey));
  }
}
