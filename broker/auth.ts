import { createHash, timingSafeEqual } from 'node:crypto';
import { StraitError } from '../api/index.js';
import type { BrokerStore } from './broker-store.js';

/** Who is calling: the admin, or one member cluster holding its credential `c.<id>.<secret>`. */
export type Principal = { kind: 'admin' } | { kind: 'cluster'; cluster: string };

export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(header ?? '');
  return m?.[1];
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Resolves bearer tokens to principals. Cluster credentials are checked against their hash in Redis and cached
 * for `cacheMs` (so a removed cluster's credential keeps working on other replicas for at most that long).
 */
export class Authenticator {
  private readonly admin: Buffer;
  private readonly cache = new Map<string, { cluster: string; until: number }>();

  constructor(
    private readonly store: BrokerStore,
    adminToken: string,
    private readonly cacheMs = 2000,
  ) {
    this.admin = digest(adminToken);
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    const token = bearerOf(header);
    if (!token) throw new StraitError('UNAUTHENTICATED', 'an Authorization: Bearer <token> header is required');
    if (timingSafeEqual(digest(token), this.admin)) return { kind: 'admin' };
    const m = /^c\.([a-z0-9][-a-z0-9.]{0,62})\.([0-9a-f]{48})$/.exec(token);
    if (m) {
      const hit = this.cache.get(token);
      if (hit && hit.until > Date.now()) return { kind: 'cluster', cluster: hit.cluster };
      const cluster = m[1]!;
      if (await this.store.verifyClusterCredential(cluster, m[2]!)) {
        if (this.cacheMs > 0) {
          if (this.cache.size > 10_000) this.cache.clear();
          this.cache.set(token, { cluster, until: Date.now() + this.cacheMs });
        }
        return { kind: 'cluster', cluster };
      }
    }
    throw new StraitError('UNAUTHENTICATED', 'the bearer token is neither the admin token nor a current cluster credential');
  }

  /** Drops cached credentials of a cluster (after it was removed or re-joined on this replica). */
  forget(cluster: string): void {
    for (const [k, v] of this.cache) if (v.cluster === cluster) this.cache.delete(k);
  }
}

export function requireAdmin(p: Principal, what: string): void {
  if (p.kind !== 'admin') throw new StraitError('FORBIDDEN', `only the admin may ${what}`, { principal: `cluster/${p.cluster}` });
}

/** Admin, or the cluster itself. */
export function requireClusterOrAdmin(p: Principal, cluster: string, what: string): void {
  if (p.kind === 'admin' || p.cluster === cluster) return;
  throw new StraitError('FORBIDDEN', `cluster ${p.cluster} may not ${what} of cluster ${cluster}`, { principal: `cluster/${p.cluster}`, cluster });
}

/** Admin, or the cluster that owns the pool; admin pools (no owner) and other clusters' pools are the admin's. */
export function requirePoolOwner(p: Principal, pool: { name: string; cluster?: string | undefined }, what: string): void {
  if (p.kind === 'admin' || (pool.cluster !== undefined && pool.cluster === p.cluster)) return;
  const owner = pool.cluster === undefined ? 'the admin' : `cluster ${pool.cluster}`;
  throw new StraitError('FORBIDDEN', `cluster ${p.cluster} may not ${what} pool ${pool.name}: it is owned by ${owner}`, { principal: `cluster/${p.cluster}`, pool: pool.name, owner: pool.cluster ?? 'admin' });
}
