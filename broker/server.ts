import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { StraitError } from '../api/index.js';
import { createLogger, type Logger } from '../host/index.js';
import { createApp, watchBacklog } from './app.js';
import { Authenticator } from './auth.js';
import { BrokerStore, NO_REPLICA_ACK, SENTINEL_REPLICA_ACK, type ReplicaAckOptions } from './broker-store.js';
import { startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis.js';
import { BrokerJobs, DEFAULT_JOB_SETTINGS, type JobSettings } from './jobs.js';
import { DEFAULT_EDGE_LIMITS, requestTimeoutMs, type EdgeLimits } from './edge-limits.js';
import { LatestValue } from './latest-value.js';
import { createBrokerMetrics } from './metrics.js';
import { certHash } from './tls.js';
import { WatchHub } from './watch-hub.js';

export type BrokerRole = 'api' | 'worker' | 'all';

export interface BrokerOptions {
  /** `HOST:PORT` (port 0 picks a free one); ignored for role `worker` */
  listen?: string;
  stateDir: string;
  /** `redis://…`, `rediss://…` or `unix:///path`; absent: start the embedded redis-server under stateDir */
  redisUrl?: string;
  /** connection options instead of a URL (tests: `{path: socket}`) */
  redisOptions?: RedisOptions;
  /** Redis Sentinel instances to ask for the primary of `redisName` (instead of a URL or the embedded Redis) */
  redisSentinels?: { host: string; port: number }[];
  /** the Sentinel master name (`sentinel monitor NAME …`); required with `redisSentinels` */
  redisName?: string;
  /**
   * Replicas that must hold each write before it is acknowledged (`WAIT`); default 1 replica within 1 s with
   * Sentinel, none otherwise. A write they do not confirm in time answers OUTCOME_UNKNOWN.
   */
  replicaAck?: Partial<ReplicaAckOptions>;
  role?: BrokerRole;
  tlsCert?: string;
  tlsKey?: string;
  /** CA certificate whose hash goes into join tokens; default stateDir/tls/ca.crt if present */
  tlsCa?: string;
  /** default: STRAIT_ADMIN_TOKEN, else stateDir/admin.token (generated, 0600) */
  adminToken?: string;
  /** URL put into join tokens; default derived from the listen address */
  advertiseUrl?: string;
  /** Redis key prefix (default `{strait}:`); the braces keep every key in one Redis Cluster slot */
  prefix?: string;
  /** how long the answer of a write made with an Idempotency-Key is kept for its retries (default 10 minutes) */
  idempotencyTtlMs?: number;
  /** per-connection limits (docs/broker.md); unset fields take DEFAULT_EDGE_LIMITS */
  limits?: Partial<EdgeLimits>;
  bookmarkMs?: number;
  credentialCacheMs?: number;
  jobs?: Partial<JobSettings>;
  logger?: Logger;
}

export interface BrokerHandle {
  url: string;
  port: number;
  adminToken: string;
  caHash: string;
  store: BrokerStore;
  hub: WatchHub | undefined;
  jobs: BrokerJobs;
  embeddedRedis: EmbeddedRedis | undefined;
  /** stops serving; also stops the embedded redis-server unless `stopRedis` is false */
  stop(opts?: { stopRedis?: boolean }): Promise<void>;
}

export function loadAdminToken(stateDir: string, explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.STRAIT_ADMIN_TOKEN) return process.env.STRAIT_ADMIN_TOKEN;
  const file = join(stateDir, 'admin.token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (!m) throw new StraitError('INVALID_ARGUMENT', `--listen wants HOST:PORT, got ${JSON.stringify(listen)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

/** `HOST:PORT,HOST:PORT,…` of `--redis-sentinels`. */
export function parseSentinels(list: string): { host: string; port: number }[] {
  const out = list.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
    const port = Number(m?.[3]);
    if (!m || port < 1 || port > 65535) throw new StraitError('INVALID_ARGUMENT', `--redis-sentinels wants HOST:PORT,HOST:PORT,…, got ${JSON.stringify(s)}`);
    return { host: m[1] ?? m[2]!, port };
  });
  if (out.length === 0) throw new StraitError('INVALID_ARGUMENT', '--redis-sentinels wants at least one HOST:PORT');
  return out;
}

/**
 * The composition root: Redis (embedded or given), store, HTTP API, watch hub and jobs, per role. If any step fails,
 * everything started before it is stopped again (the embedded redis-server too, if this call started it) and the
 * error is thrown: a daemon that cannot start leaves nothing behind.
 */
export async function startBroker(opts: BrokerOptions): Promise<BrokerHandle> {
  const logger = opts.logger ?? createLogger('broker');
  const role = opts.role ?? 'all';
  const limits: EdgeLimits = { ...DEFAULT_EDGE_LIMITS, ...opts.limits };
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const adminToken = loadAdminToken(opts.stateDir, opts.adminToken);

  let embedded: EmbeddedRedis | undefined;
  let redis: Redis | undefined;
  let jobs: BrokerJobs | undefined;
  let hub: WatchHub | undefined;
  let server: http.Server | undefined;
  const samplers: LatestValue<unknown>[] = [];
  let stopped = false;
  const stop = async (o: { stopRedis?: boolean } = {}): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of samplers) s.stop();
    await hub?.stop();
    if (server?.listening) {
      server.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
    }
    await jobs?.close();
    redis?.disconnect();
    // An embedded redis-server reused from a killed predecessor is ours now too.
    if (embedded && o.stopRedis !== false) await embedded.stop();
  };

  try {
    let redisOpts: RedisOptions;
    const redisUrl = opts.redisUrl ?? (opts.redisOptions ? undefined : process.env.REDIS_URL);
    if (opts.redisSentinels) {
      if (!opts.redisName) throw new StraitError('INVALID_ARGUMENT', '--redis-sentinels needs --redis-name (the name the sentinels monitor)');
      if (opts.redisUrl) throw new StraitError('INVALID_ARGUMENT', '--redis-sentinels and --redis exclude each other');
      // Each reconnect asks a sentinel for the primary, so it retries often (a promoted replica is found within
      // 250 ms). A primary demoted while we stay connected answers READONLY: reconnect, which asks again.
      // (ioredis' failoverDetector is left off: its +switch-master disconnect, arriving while a reconnect is under
      // way, ended the connection for good — seen in the failover test as a broker that never wrote again.)
      redisOpts = {
        retryStrategy: (n: number) => Math.min(50 * n, 250),
        reconnectOnError: (err: Error) => /^READONLY\b/.test(err.message),
        ...opts.redisOptions,
        sentinels: opts.redisSentinels,
        name: opts.redisName,
      };
    } else if (opts.redisOptions) redisOpts = opts.redisOptions;
    else if (redisUrl?.startsWith('unix://')) redisOpts = { path: redisUrl.slice('unix://'.length) };
    else if (redisUrl) redisOpts = {};
    else {
      embedded = await startEmbeddedRedis(opts.stateDir, { logger });
      redisOpts = { path: embedded.socket };
      logger.info({ socket: embedded.socket, pid: embedded.pid, reused: !embedded.started }, 'embedded redis-server');
    }
    // Auto-pipelining: commands issued by concurrent requests within one event-loop turn go out in one socket write
    // (a write per command was the largest single cost of a lease under load). Duplicated connections turn it off.
    const base: RedisOptions = { maxRetriesPerRequest: 3, enableOfflineQueue: true, enableAutoPipelining: true, retryStrategy: (n) => Math.min(50 * n, 1000), ...redisOpts };
    const conn = redisUrl && !redisUrl.startsWith('unix://') && !redisOpts.sentinels ? new Redis(redisUrl, base) : new Redis(base);
    redis = conn;
    conn.on('error', (e) => logger.debug({ err: e }, 'redis'));
    const replicaAck = { ...(redisOpts.sentinels ? SENTINEL_REPLICA_ACK : NO_REPLICA_ACK), ...opts.replicaAck };
    if (!Number.isInteger(replicaAck.replicas) || replicaAck.replicas < 0 || !(replicaAck.timeoutMs > 0 || replicaAck.replicas === 0)) {
      throw new StraitError('INVALID_ARGUMENT', `replica acknowledgement wants a whole number of replicas (≥ 0) and a timeout > 0, got ${JSON.stringify(replicaAck)}`);
    }
    if (replicaAck.replicas > 0) logger.info({ replicas: replicaAck.replicas, timeoutMs: replicaAck.timeoutMs }, 'writes wait for Redis replicas');
    const store = new BrokerStore(conn, opts.prefix, opts.idempotencyTtlMs, replicaAck);

    const jobSettings = { ...DEFAULT_JOB_SETTINGS, ...opts.jobs };
    // Constructed for every role: API replicas report the queue depth; only workers schedule and run jobs.
    const j = new BrokerJobs(store, jobSettings, logger);
    jobs = j;
    if (role !== 'api') {
      await j.schedule();
      j.startWorker();
    }

    let url = '';
    let port = 0;
    let caHash = '';
    if (role !== 'worker') {
      const h = new WatchHub(store, { bookmarkMs: opts.bookmarkMs ?? 5000, catchUpPage: limits.catchUpPage });
      hub = h;
      await h.start();
      const caFile = opts.tlsCa ?? join(opts.stateDir, 'tls', 'ca.crt');
      const tls = Boolean(opts.tlsCert && opts.tlsKey);
      const caPem = tls && existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined;
      if (caPem) caHash = certHash(caPem);
      const watchStreams = new Set<http.ServerResponse>();
      // Counted in Redis once a second in the background: a scrape never waits behind the lease traffic.
      const leaseCounts = new LatestValue(async () => {
        const [b, a] = await Promise.all([conn.hlen(store.keys.objects('Block')), conn.hlen(store.keys.objects('AddressLease'))]);
        return { blocks: b, addresses: a };
      }, { blocks: 0, addresses: 0 }, 1000, (err) => logger.debug({ err }, 'metrics: lease counts'));
      const queueDepth = new LatestValue(() => j.depth(), 0, 1000, (err) => logger.debug({ err }, 'metrics: queue depth'));
      samplers.push(leaseCounts, queueDepth);
      leaseCounts.start();
      queueDepth.start();
      const metrics = createBrokerMetrics({
        leases: () => Promise.resolve(leaseCounts.get()),
        watchers: () => h.size,
        watchBacklog: () => watchBacklog(watchStreams),
        queueDepth: () => Promise.resolve(queueDepth.get()),
      });
      const { host, port: wantPort } = parseListen(opts.listen ?? '127.0.0.1:8443');
      const advertiseHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      const placeholder = `${tls ? 'https' : 'http'}://${advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost}:`;
      const deps = { store, auth: new Authenticator(store, adminToken, opts.credentialCacheMs ?? 2000), hub: h, metrics, logger, brokerUrl: opts.advertiseUrl ?? '', caHash, ...(caPem ? { caPem } : {}), limits, watchStreams };
      const app = createApp(deps);
      // Node checks the header and request deadlines on this interval; its default (30 s) would let a slow client
      // hold a connection for that much longer than the limits say.
      const timing = {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: requestTimeoutMs(limits),
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      };
      const srv = tls
        ? https.createServer({ cert: readFileSync(opts.tlsCert!), key: readFileSync(opts.tlsKey!), ...timing }, app.callback())
        : http.createServer(timing, app.callback());
      server = srv;
      srv.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(wantPort, host, () => {
          srv.off('error', reject);
          resolve();
        });
      }).catch((e: NodeJS.ErrnoException) => {
        const why = e.code === 'EADDRINUSE' ? 'the address is already in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
        // No details: the CLI prints this as its one line.
        throw new StraitError('LISTEN_FAILED', `cannot listen on ${opts.listen ?? '127.0.0.1:8443'}: ${why}${e.code ? ` (${e.code})` : ''}`, undefined, { cause: e });
      });
      srv.on('error', (err) => logger.error({ err }, 'http server'));
      port = (srv.address() as AddressInfo).port;
      url = opts.advertiseUrl ?? `${placeholder}${port}`;
      deps.brokerUrl = url;
      logger.info({ url, role }, 'broker listening');
    }

    return {
      url,
      port,
      adminToken,
      caHash,
      store,
      hub,
      jobs: j,
      embeddedRedis: embedded,
      stop,
    };
  } catch (e) {
    // A redis-server reused from a predecessor may serve another broker on this state dir: only stop our own.
    await stop({ stopRedis: embedded?.started ?? false }).catch((err: unknown) => logger.error({ err }, 'cleaning up after a failed start'));
    throw e;
  }
}
