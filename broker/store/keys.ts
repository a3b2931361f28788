import type { Kind } from '../../api/index.js';

/**
 * The broker's Redis key schema: every key family spelled once. Names are relative to the store's prefix (default
 * `{strait}:`, whose braces keep every key in one Redis Cluster slot); `BrokerKeys` gives the full names. Every
 * script in `lua/` gets the keys it touches in KEYS, built here (its header names them); a key the script can only
 * know while it runs (the pool of a lease it releases) is built from a family prefix passed in KEYS
 * (`BrokerKeys.prefixOf`), as are the per-cluster keys of the holder index (`liveOf`, `holdersOf`, `heldOf`,
 * `absentOf`) and of the heartbeat (`liveNextOf`, `legacyMissingOf`).
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
  /** cluster id → the `left` time whose leases the gc job has passed over and returned (lua/gc-leavers.lua) */
  gcPassed: 'gcpassed',
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
  /**
   * the offsets ReservedIPs hold in a pool, for the address lease script: ReservedIP name → `first last first last …`,
   * and field `#` → the `reservedGen` it was computed at (filled by fill-reserved.lua when the lease script finds it
   * missing or older than `reservedGen`)
   */
  poolReserved: (pool: string): string => `pr:${pool}`,
  /** bumped by every write of a ReservedIP and every pool delete, in the same script: poolReserved older than it is stale */
  reservedGen: 'rgen',
  /** ip → `pool|index|owner` */
  addressMeta: 'am',
  /** `<node|owner>:<cluster>` → when the cluster last reported that set (ms) */
  lastReported: 'lr',
  /** the set of live node names / address owners a cluster reported */
  live: (what: 'node' | 'owner', cluster: string): string => `live:${what}:${cluster}`,
  /** the holder index: the names that hold something (node names / owners) → '+' (lua/includes/holders.lua; an older version kept the list itself here, space-separated) */
  holders: (what: 'node' | 'owner', cluster: string): string => `hold:${what}:${cluster}`,
  /** the holder index: the set of what one name holds (block ids / ips) */
  held: (what: 'node' | 'owner', cluster: string, name: string): string => `held:${what}:${cluster}:${name}`,
  /** sorted set of names that hold a lease but are missing from the reported set; score: first seen missing by the GC (ms), +inf before */
  absent: (what: 'node' | 'owner', cluster: string): string => `absent:${what}:${cluster}`,
  /** the prefixes of live, holders, held and absent, to which a script appends `<kind>:<cluster>` (held: `<kind>:<cluster>:<name>`; holders.lua) */
  liveOf: 'live:',
  holdersOf: 'hold:',
  heldOf: 'held:',
  absentOf: 'absent:',
  /** set of `<node|owner>:<cluster>` whose absent set is not empty: all the owner GC walks */
  absentQueue: 'absentq',
  /** set while the heartbeat script compares a new reported set with the last one */
  liveNext: (what: 'node' | 'owner', cluster: string): string => `livenext:${what}:${cluster}`,
  /** the prefix of liveNext, to which heartbeat.lua appends `<kind>:<cluster>` */
  liveNextOf: 'livenext:',
  /** set once the holder index covers the leases written before it existed */
  holdersIndexed: 'holdidx',
  /** name → when the owner GC first saw it missing (ms): the family before the holder index, deleted on sight */
  legacyMissing: (what: 'node' | 'owner', cluster: string): string => `miss:${what}:${cluster}`,
  /** the prefix of legacyMissing, to which heartbeat.lua appends `<kind>:<cluster>` */
  legacyMissingOf: 'miss:',
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
  get gcPassed(): string {
    return this.of(KEY.gcPassed);
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
  held(what: 'node' | 'owner', cluster: string, name: string): string {
    return this.of(KEY.held(what, cluster, name));
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
  /** The keys of the holder index: the KEYS group holderIndex of lua/includes/holders.lua (script-loader.test.ts keeps them equal). */
  holderIndex(): { holdIndexDone: string; lastReported: string; liveOf: string; holdersOf: string; heldOf: string; absentOf: string; absentQueue: string } {
    return {
      holdIndexDone: this.holdersIndexed,
      lastReported: this.lastReported,
      liveOf: this.of(KEY.liveOf),
      holdersOf: this.of(KEY.holdersOf),
      heldOf: this.of(KEY.heldOf),
      absentOf: this.of(KEY.absentOf),
      absentQueue: this.absentQueue,
    };
  }
  /** The holder index keys a release touches (holdDel): the KEYS group holderRelease of lua/includes/holders.lua. */
  holderRelease(): { holdersOf: string; heldOf: string; absentOf: string; absentQueue: string } {
    const { holdersOf, heldOf, absentOf, absentQueue } = this.holderIndex();
    return { holdersOf, heldOf, absentOf, absentQueue };
  }
  /** The keys releasing a Block touches: the KEYS group blockRelease of lua/includes/release.lua (releaseBlock). */
  blockRelease(): Record<'blocks' | 'poolBlocksOf' | 'rev' | 'events' | 'holdersOf' | 'heldOf' | 'absentOf' | 'absentQueue', string> {
    return { blocks: this.objects('Block'), poolBlocksOf: this.prefixOf(KEY.poolBlocks), rev: this.rev, events: this.events, ...this.holderRelease() };
  }
  /** The keys releasing an AddressLease touches: the KEYS group addressRelease of lua/includes/release.lua. */
  addressRelease(): Record<'addressLeases' | 'addressMeta' | 'poolMeta' | 'poolAddressesOf' | 'poolAddressBlocksOf' | 'poolOwnersOf' | 'rev' | 'events' | 'holdersOf' | 'heldOf' | 'absentOf' | 'absentQueue', string> {
    return {
      addressLeases: this.objects('AddressLease'),
      addressMeta: this.addressMeta,
      poolMeta: this.poolMeta,
      poolAddressesOf: this.prefixOf(KEY.poolAddresses),
      poolAddressBlocksOf: this.prefixOf(KEY.poolAddressBlocks),
      poolOwnersOf: this.prefixOf(KEY.poolOwners),
      rev: this.rev,
      events: this.events,
      ...this.holderRelease(),
    };
  }
  idempotency(scopedKey: string): string {
    return this.of(KEY.idempotency(scopedKey));
  }
  get joinedVia(): string {
    return this.of(KEY.joinedVia);
  }
  ranges(what: 'cluster' | 'subnet' | 'pool'): string {
    return this.of(KEY.ranges(what));
  }
  subnetPools(subnet: string): string {
    return this.of(KEY.subnetPools(subnet));
  }
  get poolMeta(): string {
    return this.of(KEY.poolMeta);
  }
  get addressMeta(): string {
    return this.of(KEY.addressMeta);
  }
  get reservedGen(): string {
    return this.of(KEY.reservedGen);
  }
  poolReserved(pool: string): string {
    return this.of(KEY.poolReserved(pool));
  }
  /** The per-pool keys of one pool, by the names the lease scripts give them. */
  pool(pool: string): { poolBlocks: string; poolAddresses: string; poolAddressBlocks: string; poolOwners: string; poolCursor: string } {
    return {
      poolBlocks: this.of(KEY.poolBlocks(pool)),
      poolAddresses: this.of(KEY.poolAddresses(pool)),
      poolAddressBlocks: this.of(KEY.poolAddressBlocks(pool)),
      poolOwners: this.of(KEY.poolOwners(pool)),
      poolCursor: this.of(KEY.poolCursor(pool)),
    };
  }
  /** The prefix of a per-pool family, for a script that appends the pool it reads (see release.lua). */
  prefixOf(family: (pool: string) => string): string {
    return this.of(family(''));
  }
}
