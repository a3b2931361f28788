import type { Redis } from 'ioredis';
import { IDEMPOTENCY_TTL_MS, StoreCore } from './store/core.js';
import { EventLog } from './store/event-log.js';
import { HeartbeatStore } from './store/heartbeat.js';
import type { BrokerKeys } from './store/keys.js';
import { LeaseStore } from './store/leases.js';
import { LeaverGc } from './store/leaver-gc.js';
import { ObjectStore } from './store/objects.js';
import { OwnerGc } from './store/owner-gc.js';
import { PoolStore } from './store/pools.js';
import type { ReplicaAckOptions } from './store/replica-ack.js';
import { TokenStore } from './store/tokens.js';

export { brokerScripts, IDEMPOTENCY_TTL_MS, sha256Hex, type Idem } from './store/core.js';
export { EGRESS_KINDS, egressKey, type EgressKind, type KindObjectMap } from './store/objects.js';
export { parseEntry, type RawEvent } from './store/event-log.js';
export { NO_REPLICA_ACK, SENTINEL_REPLICA_ACK, type ReplicaAckOptions } from './store/replica-ack.js';

/**
 * The broker's state in Redis: objects in one hash per kind, the event log in a stream, allocations in
 * per-pool hashes, all changed only through the Lua scripts in `store/lua/` (keys: `store/keys.ts`). Stateless itself, so any number
 * of broker replicas can share one Redis.
 *
 * The one face of the store: each operation is a method of the area that holds it (`store/objects.ts`,
 * `tokens.ts`, `heartbeat.ts`, `pools.ts`, `leases.ts`, `owner-gc.ts`, `event-log.ts`), bound here, so callers
 * see one object whatever file an operation lives in.
 */
export class BrokerStore {
  readonly prefix: string;
  readonly keys: BrokerKeys;

  // objects
  readonly list: ObjectStore['list'];
  readonly get: ObjectStore['get'];
  readonly put: ObjectStore['put'];
  readonly delete: ObjectStore['delete'];
  readonly update: ObjectStore['update'];
  readonly putEgress: ObjectStore['putEgress'];
  readonly deleteEgressOf: ObjectStore['deleteEgressOf'];
  // tokens and join
  readonly createToken: TokenStore['createToken'];
  readonly listTokens: TokenStore['listTokens'];
  readonly revokeToken: TokenStore['revokeToken'];
  readonly joinCluster: TokenStore['joinCluster'];
  readonly rejoinCluster: TokenStore['rejoinCluster'];
  readonly rotateCredential: TokenStore['rotateCredential'];
  readonly verifyClusterCredential: TokenStore['verifyClusterCredential'];
  // heartbeat and leaving
  readonly heartbeat: HeartbeatStore['heartbeat'];
  readonly removeCluster: HeartbeatStore['removeCluster'];
  // subnets and pools
  readonly createSubnet: PoolStore['createSubnet'];
  readonly deleteSubnet: PoolStore['deleteSubnet'];
  readonly createPool: PoolStore['createPool'];
  readonly deletePool: PoolStore['deletePool'];
  readonly deleteOwnerlessPools: PoolStore['deleteOwnerlessPools'];
  // leases
  readonly leaseBlock: LeaseStore['leaseBlock'];
  readonly leaseBlocks: LeaseStore['leaseBlocks'];
  readonly leaseAddress: LeaseStore['leaseAddress'];
  readonly leaseAddresses: LeaseStore['leaseAddresses'];
  readonly releaseBlock: LeaseStore['releaseBlock'];
  readonly releaseAddress: LeaseStore['releaseAddress'];
  // owner GC
  readonly collectOwnerless: OwnerGc['collect'];
  readonly indexHolders: OwnerGc['indexHolders'];
  // the gc job's pass over the leases of clusters that left
  readonly returnLeasesOf: LeaverGc['returnLeasesOf'];
  // event log
  readonly currentRev: StoreCore['currentRev'];
  readonly compacted: EventLog['compacted'];
  readonly eventsAfter: EventLog['eventsAfter'];
  readonly compact: EventLog['compact'];

  constructor(
    readonly redis: Redis,
    prefix = '{strait}:',
    idempotencyTtlMs = IDEMPOTENCY_TTL_MS,
    replicaAck?: ReplicaAckOptions,
  ) {
    const core = new StoreCore(redis, prefix, idempotencyTtlMs, replicaAck);
    this.prefix = prefix;
    this.keys = core.keys;
    const objects = new ObjectStore(core);
    const tokens = new TokenStore(core, objects);
    const pools = new PoolStore(core, objects);
    const heartbeats = new HeartbeatStore(core, objects, pools);
    const leases = new LeaseStore(core);
    const gc = new OwnerGc(core);
    const leavers = new LeaverGc(core);
    const log = new EventLog(core);

    this.list = objects.list.bind(objects);
    this.get = objects.get.bind(objects);
    this.put = objects.put.bind(objects);
    this.delete = objects.delete.bind(objects);
    this.update = objects.update.bind(objects);
    this.putEgress = objects.putEgress.bind(objects);
    this.deleteEgressOf = objects.deleteEgressOf.bind(objects);
    this.createToken = tokens.createToken.bind(tokens);
    this.listTokens = tokens.listTokens.bind(tokens);
    this.revokeToken = tokens.revokeToken.bind(tokens);
    this.joinCluster = tokens.joinCluster.bind(tokens);
    this.rejoinCluster = tokens.rejoinCluster.bind(tokens);
    this.rotateCredential = tokens.rotateCredential.bind(tokens);
    this.verifyClusterCredential = tokens.verifyClusterCredential.bind(tokens);
    this.heartbeat = heartbeats.heartbeat.bind(heartbeats);
    this.removeCluster = heartbeats.removeCluster.bind(heartbeats);
    this.createSubnet = pools.createSubnet.bind(pools);
    this.deleteSubnet = pools.deleteSubnet.bind(pools);
    this.createPool = pools.createPool.bind(pools);
    this.deletePool = pools.deletePool.bind(pools);
    this.deleteOwnerlessPools = pools.deleteOwnerlessPools.bind(pools);
    this.leaseBlock = leases.leaseBlock.bind(leases);
    this.leaseBlocks = leases.leaseBlocks.bind(leases);
    this.leaseAddress = leases.leaseAddress.bind(leases);
    this.leaseAddresses = leases.leaseAddresses.bind(leases);
    this.releaseBlock = leases.releaseBlock.bind(leases);
    this.releaseAddress = leases.releaseAddress.bind(leases);
    this.collectOwnerless = gc.collect.bind(gc);
    this.indexHolders = gc.indexHolders.bind(gc);
    this.returnLeasesOf = leavers.returnLeasesOf.bind(leavers);
    this.currentRev = core.currentRev.bind(core);
    this.compacted = log.compacted.bind(log);
    this.eventsAfter = log.eventsAfter.bind(log);
    this.compact = log.compact.bind(log);
  }

  /** Full name of a key family of `store/keys.ts` (KEY). */
  key(k: string): string {
    return this.keys.of(k);
  }
}
