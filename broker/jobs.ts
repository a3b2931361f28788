import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../host/index.js';
import type { BrokerStore } from './broker-store.js';

export interface JobSettings {
  /** A Ready cluster without a heartbeat for this long becomes NotReady. */
  heartbeatTimeoutMs: number;
  sweepEveryMs: number;
  /** Blocks, addresses and gateways of a removed cluster are returned this long after it left. */
  gcGraceMs: number;
  gcEveryMs: number;
  /**
   * Blocks of nodes and addresses of owners missing from their cluster's reported live sets (heartbeat `nodes`,
   * `addressOwners`) are returned once missing this long.
   */
  ownerGraceMs: number;
  ownerGcEveryMs: number;
  /** Events kept in the log (older ones are trimmed; watchers behind them get 410). */
  compactKeep: number;
  compactEveryMs: number;
}

export const DEFAULT_JOB_SETTINGS: JobSettings = {
  heartbeatTimeoutMs: 30_000,
  sweepEveryMs: 5_000,
  gcGraceMs: 120_000,
  gcEveryMs: 30_000,
  ownerGraceMs: 300_000,
  ownerGcEveryMs: 30_000,
  compactKeep: 100_000,
  compactEveryMs: 60_000,
};

/** Marks Ready clusters whose last heartbeat is older than `timeoutMs` NotReady; returns their ids. */
export async function sweepHeartbeats(store: BrokerStore, timeoutMs: number, nowMs = Date.now()): Promise<string[]> {
  const hb = await store.redis.hgetall(store.keys.heartbeats);
  const marked: string[] = [];
  for (const c of (await store.list('Cluster')).items) {
    const last = Number(hb[c.id] ?? Date.parse(c.joinedAt));
    if (c.status === 'Ready' && nowMs - last > timeoutMs) {
      try {
        await store.update('Cluster', c.id, (cur) => {
          if (cur.status !== 'Ready') return undefined;
          const { resourceVersion: _rv, ...rest } = cur;
          return { ...rest, status: 'NotReady' as const };
        });
        marked.push(c.id);
      } catch {
        /* removed meanwhile */
      }
    }
  }
  return marked;
}

/**
 * Returns blocks and addresses and deletes gateways of clusters that are gone, once they have been gone for
 * `graceMs` (a cluster that re-joins within the grace keeps everything). A run's work follows the clusters, never
 * the leases: it reads the Cluster, Gateway, egress and pool objects (one or a few per cluster) and the `left` and
 * `creds` hashes, and touches leases only when a cluster that left is due and has not been passed over yet; then one
 * pass in Redis (store/leaver-gc.ts) returns the leases of every such cluster at once. (Before, every run listed
 * every Block and AddressLease into the worker: seconds and hundreds of MB at 1M leases, every 30 s.)
 * A cluster gone without a record (its object deleted by hand in Redis) is found by its credential and its grace
 * starts on the run that finds it.
 */
export async function collectGarbage(store: BrokerStore, graceMs: number, nowMs = Date.now()): Promise<{ blocks: number; addresses: number; gateways: number; egress: number }> {
  const clusters = new Set((await store.list('Cluster')).items.map((c) => c.id));
  const { left: leftKey, gcPassed } = store.keys;
  const startGrace = async (cluster: string): Promise<void> => {
    await store.redis.hsetnx(leftKey, cluster, String(nowMs));
  };
  const credentialed = new Set(await store.redis.hkeys(store.keys.creds));
  for (const c of credentialed) if (!clusters.has(c)) await startGrace(c);
  const expired = async (cluster: string): Promise<boolean> => {
    if (clusters.has(cluster)) return false;
    // An object whose cluster vanished without a record (e.g. removed by hand in Redis) starts its grace now.
    await startGrace(cluster);
    const left = Number(await store.redis.hget(leftKey, cluster));
    return nowMs - left >= graceMs;
  };
  const out = { blocks: 0, addresses: 0, gateways: 0, egress: 0 };
  const ignoreGone = (e: unknown): void => {
    if ((e as { code?: string }).code !== 'NOT_FOUND') throw e;
  };
  // Leases: of the clusters due and not passed over since they left (`gcpassed` holds the `left` time passed for).
  const left = await store.redis.hgetall(leftKey);
  const passed = await store.redis.hgetall(gcPassed);
  const due = Object.entries(left).filter(([c, at]) => !clusters.has(c) && nowMs - Number(at) >= graceMs && passed[c] !== at);
  if (due.length > 0) {
    const r = await store.returnLeasesOf(due.map(([c]) => c));
    out.blocks += r.blocks;
    out.addresses += r.addresses;
    for (const [c, at] of due) await store.redis.hset(gcPassed, c, at);
  }
  for (const g of (await store.list('Gateway')).items) {
    if (await expired(g.cluster)) {
      await store.delete('Gateway', `${g.cluster}/${g.name}`).then(() => out.gateways++, ignoreGone);
    }
  }
  // Egress objects of clusters that are gone go at once (removal deletes them; this catches a broker that died in
  // between, or a cluster removed by hand in Redis).
  for (const kind of ['EgressGateway', 'EgressPolicy', 'EgressClusterPolicy'] as const) {
    const gone = new Set((await store.list(kind)).items.map((o) => o.cluster).filter((c) => !clusters.has(c)));
    for (const c of gone) out.egress += await store.deleteEgressOf(c);
  }
  // Pools of clusters that are gone go once nothing is leased from them (removal deletes the free ones at once).
  const owners = new Set((await store.list('IPPool')).items.map((p) => p.cluster).filter((c): c is string => c !== undefined && !clusters.has(c)));
  for (const owner of owners) await store.deleteOwnerlessPools(owner);
  // Forget clusters whose leftovers are all gone; one that still has a credential stays (else the next run would
  // find it again, start a new grace and pass over the leases again).
  for (const [cluster, at] of Object.entries(await store.redis.hgetall(leftKey))) {
    if (clusters.has(cluster) || (nowMs - Number(at) >= graceMs * 10 && !credentialed.has(cluster))) await store.redis.hdel(leftKey, cluster);
  }
  for (const cluster of Object.keys(passed)) if (clusters.has(cluster) || !(cluster in left)) await store.redis.hdel(gcPassed, cluster);
  return out;
}

/**
 * Returns blocks leased to nodes and addresses leased to owners that their cluster no longer reports live (heartbeat
 * `nodes` / `addressOwners`), once missing for `graceMs`. The time a name was first seen missing is kept in Redis
 * (`absent:<node|owner>:<cluster>`), so replicas and restarts agree; a name reported live again clears it. Clusters
 * that report no set are not touched. A run reads no lease list: it walks only the names the heartbeats found
 * missing (store/owner-gc.ts), so it costs the same at 1,000 leases and at 1,000,000.
 */
export async function collectOwnerless(store: BrokerStore, graceMs: number, nowMs = Date.now()): Promise<{ blocks: number; addresses: number }> {
  const r = await store.collectOwnerless(nowMs, graceMs);
  return { blocks: r.blocks, addresses: r.addresses };
}

export async function compactLog(store: BrokerStore, keep: number): Promise<number> {
  return store.compact(keep);
}

/**
 * The broker's repeatable jobs on bullmq. Any number of workers may run (in API replicas or apart with
 * `--role worker`); bullmq hands each run to one of them. The connection retries forever, so workers ride out
 * Redis restarts.
 */
export class BrokerJobs {
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private closing = false;
  private readonly conn: Redis;
  private readonly workerConn: Redis;

  constructor(
    private readonly store: BrokerStore,
    private readonly settings: JobSettings = DEFAULT_JOB_SETTINGS,
    private readonly logger?: Logger,
    private readonly queueName = 'broker-jobs',
  ) {
    // Lazy: an API-only replica opens these only if someone asks for the queue depth.
    this.conn = store.redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, enableAutoPipelining: false, lazyConnect: true });
    this.workerConn = store.redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, enableAutoPipelining: false, lazyConnect: true });
    this.conn.on('error', () => undefined);
    this.workerConn.on('error', () => undefined);
  }

  private get prefix(): string {
    return `${this.store.prefix}bull`;
  }

  private queueOf(): Queue {
    if (!this.queue) {
      this.queue = new Queue(this.queueName, { connection: this.conn, prefix: this.prefix });
      this.queue.on('error', (err) => this.logger?.debug({ err }, 'broker job queue'));
    }
    return this.queue;
  }

  /** Installs the schedules (idempotent: upsert). */
  async schedule(): Promise<void> {
    const queue = this.queueOf();
    const s = this.settings;
    const opts = { removeOnComplete: 100, removeOnFail: 100 };
    await queue.upsertJobScheduler('heartbeat-sweep', { every: s.sweepEveryMs }, { name: 'heartbeat-sweep', opts });
    await queue.upsertJobScheduler('gc', { every: s.gcEveryMs }, { name: 'gc', opts });
    await queue.upsertJobScheduler('owner-gc', { every: s.ownerGcEveryMs }, { name: 'owner-gc', opts });
    await queue.upsertJobScheduler('compact', { every: s.compactEveryMs }, { name: 'compact', opts });
  }

  async depth(): Promise<number> {
    const c = await this.queueOf().getJobCounts('waiting', 'delayed', 'prioritized');
    return (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
  }

  startWorker(onDone?: (name: string, result: unknown) => void): void {
    const s = this.settings;
    this.worker = new Worker(
      this.queueName,
      async (job) => {
        switch (job.name) {
          case 'heartbeat-sweep':
            return sweepHeartbeats(this.store, s.heartbeatTimeoutMs);
          case 'gc':
            return collectGarbage(this.store, s.gcGraceMs);
          case 'owner-gc':
            return collectOwnerless(this.store, s.ownerGraceMs);
          case 'compact':
            return compactLog(this.store, s.compactKeep);
          default:
            return undefined;
        }
      },
      { connection: this.workerConn, prefix: this.prefix, concurrency: 1 },
    );
    this.worker.on('completed', (job, result) => onDone?.(job.name, result));
    this.worker.on('failed', (job, err) => this.logger?.warn({ job: job?.name, err }, 'broker job failed'));
    this.worker.on('error', (err) => this.logger?.warn({ err }, 'broker worker error'));
    // After Redis comes back (a restart without persistence loses the schedules), re-install the schedules and make
    // sure the worker loop is running again.
    let first = true;
    this.workerConn.on('ready', () => {
      if (first) {
        first = false;
        return;
      }
      if (this.closing) return;
      void this.schedule().catch((err: Error) => this.logger?.warn({ err }, 're-installing job schedules failed'));
      if (this.worker && !this.worker.isRunning() && !this.closing) void this.worker.run().catch(() => undefined);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.close();
    await this.queue?.close();
    this.conn.disconnect();
    this.workerConn.disconnect();
  }
}
