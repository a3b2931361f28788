import { Redis } from 'ioredis';
import { StraitError } from '../../api/index.js';
import type { Logger } from '../../host/index.js';
import { QuorumLeaseStore, quorumRenewTimeoutMs, quorumTimeoutMs } from '../failover/lease-quorum.js';
import { RedisQuorumMember } from '../failover/lease-quorum-redis.js';
import { leaseStoreRetryMs, RedisLeaseStore } from '../failover/lease-redis.js';
import type { LeaseStore } from '../failover/lease-store.js';
import type { FailoverProfile } from '../failover/profiles.js';

/** The stores of `--lease-redis URL[,URL…]`: one (a single store) or an odd number ≥ 3 (a quorum). */
export function parseLeaseStores(spec: string): string[] {
  const urls = spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (urls.length === 0) throw new StraitError('GATEWAY_INVALID_CONFIG', '--lease-redis: give one store or an odd number of stores (3, 5), comma-separated');
  if (urls.length > 1 && urls.length % 2 === 0) {
    throw new StraitError('GATEWAY_INVALID_CONFIG', `--lease-redis: ${urls.length} stores survive no more failures than ${urls.length - 1}; give an odd number (3 or 5)`, { stores: urls.length });
  }
  if (new Set(urls).size !== urls.length) throw new StraitError('GATEWAY_INVALID_CONFIG', '--lease-redis: a store is named twice');
  for (const u of urls) redisOptionsFrom(u);
  return urls;
}

type RedisSpec = { url: string } | { path: string };

function redisOptionsFrom(spec: string): RedisSpec {
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) return { url: spec };
  if (spec.startsWith('unix://')) return { path: spec.slice('unix://'.length) };
  if (spec.startsWith('/')) return { path: spec };
  throw new StraitError('GATEWAY_INVALID_CONFIG', `--lease-redis ${spec}: expected redis://host:port, unix:///path or /path/to/socket`);
}

function redisFrom(spec: string, quorum: boolean): Redis {
  // Reconnect fast after a store restart (ioredis defaults to 50 ms, 100 ms, 150 ms, …): egress IPs cannot move
  // while the lease store is unreachable, so every retry step is added to the failover.
  // In a quorum, a store cut off by a partition keeps its TCP connection while requests pile up unanswered (the
  // quorum stopped waiting for them long ago): a command timeout lets them go.
  const opts = {
    maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: true, lazyConnect: false, retryStrategy: leaseStoreRetryMs,
    ...(quorum ? { commandTimeout: 2000 } : {}),
  };
  const s = redisOptionsFrom(spec);
  return 'url' in s ? new Redis(s.url, opts) : new Redis({ ...opts, path: s.path });
}

/** At most one warning per store every 5 s: a dead store of a quorum is expected and must not flood the log. */
function throttledWarn(log: Logger): (store: string, what: string, err: unknown) => void {
  const last = new Map<string, number>();
  return (store, what, err) => {
    const now = Date.now();
    if ((last.get(store) ?? 0) + 5000 > now) return;
    last.set(store, now);
    log.warn({ err, store }, `lease store ${store}: ${what}`);
  };
}

export interface AgentLeaseStore {
  store: LeaseStore;
  /** How many stores (1: a single store; 3 or 5: a quorum). */
  stores: number;
  close(): void;
}

/**
 * The lease store of `--lease-redis`: one URL is the single-store lease (lease-redis.ts); several are a quorum
 * (lease-quorum.ts) whose restart guard lasts the longest lease this profile may ask for, and whose per-store
 * timeouts follow the renewal interval (lease-quorum.ts).
 */
export function leaseStoreFromFlags(spec: string, profile: FailoverProfile, log: Logger): AgentLeaseStore {
  const urls = parseLeaseStores(spec);
  const warn = throttledWarn(log);
  const clients = urls.map((u) => {
    const r = redisFrom(u, urls.length > 1);
    r.on('error', (e) => warn(u, 'connection', e));
    return r;
  });
  const close = (): void => clients.forEach((c) => c.disconnect());
  if (clients.length === 1) return { store: new RedisLeaseStore(clients[0]!), stores: 1, close };
  const store = new QuorumLeaseStore(
    clients.map((c, i) => new RedisQuorumMember(urls[i]!, c)),
    {
      guardMs: Math.max(profile.leaseTtlMs, profile.maxLeaseTtlMs),
      timeoutMs: quorumTimeoutMs(profile),
      renewTimeoutMs: quorumRenewTimeoutMs(profile),
      onStoreError: (s, op, err) => warn(s, `${op} failed or timed out`, err),
    },
  );
  return { store, stores: clients.length, close };
}
