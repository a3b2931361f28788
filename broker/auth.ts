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
const ADMIN: Principal = Object.freeze({ kind: 'admin' });

/**
 * Resolves bearer tokens to principals. Answers are cached in memory by token for `cacheMs` (cluster credentials:
 * a removed cluster's credential keeps working on other replicas for at most that long) so the hot path costs one
 * Map lookup: no hash, no Redis round trip. The admin token never changes while the process runs, so its answer is
 * cached even with `cacheMs` 0. Unknown tokens are never cached.
 */
export class Authenticator {
  private readonly admin: Buffer;
  private readonly cache = new Map<string, { principal: Principal; until: number }>();

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
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now) return hit.principal;
    if (timingSafeEqual(digest(token), this.admin)) return this.remember(token, ADMIN, Number.MAX_SAFE_INTEGER);
    const m = /^c\.([a-z0-9][-a-z0-9.]{0,62})\.([0-9a-f]{48})$/.exec(token);
    if (m) {
      const cluster = m[1]!;
      if (await this.store.verifyClusterCredential(cluster, m[2]!)) {
        const principal: Principal = { kind: 'cluster', cluster };
        return this.cacheMs > 0 ? this.remember(token, principal, now + this.cacheMs) : principal;
      }
    }
    throw new StraitError('UNAUTHENTICATED', 'the bearer token is neither the admin token nor a current cluster credential');
  }

  private remember(token: string, principal: Principal, until: number): Principal {
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(token, { principal, until });
    return principal;
  }

  /** Drops cached credentials of a cluster (after it was removed or re-joined on this replica). */
  forget(cluster: string): void {
    for (const [k, v] of this.cache) if (v.principal.kind === 'cluster' && v.principal.cluster === cluster) this.cache.delete(k);
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
