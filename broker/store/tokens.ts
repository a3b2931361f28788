import { randomBytes } from 'node:crypto';
import { StraitError, type Cluster, type List, type Token } from '../../api/index.js';
import { parseCidrRange, rangeEntry, rangesOverlap } from '../cidr-range.js';
import { encodeObject, now, sha256Hex, type Idem, type StoreCore } from './core.js';
import type { ObjectStore } from './objects.js';
import { scriptError } from './script-errors.js';

/** Join tokens, and clusters joining with them (or re-joining with their credential), and their credentials. */
export class TokenStore {
  constructor(
    private readonly core: StoreCore,
    private readonly objects: ObjectStore,
  ) {}

  // ------------------------------------------------------------------ tokens
  async createToken(ttlSeconds: number, uses: number, description?: string): Promise<{ token: Token; secret: string }> {
    const id = randomBytes(4).toString('hex');
    const secret = randomBytes(16).toString('hex');
    const createdAt = Date.now();
    const expiresAt = createdAt + ttlSeconds * 1000;
    await this.core.ensureConnected();
    const ticket = this.core.ack.ticket();
    await this.core.redis
      .multi()
      .hset(this.core.keys.token(id), { hash: sha256Hex(secret), expiresAt, uses, used: 0, createdAt, description: description ?? '' })
      .pexpireat(this.core.keys.token(id), expiresAt + 86_400_000)
      .sadd(this.core.keys.tokens, id)
      .exec()
      .catch((e: unknown) => {
        throw this.core.writeFailure(e);
      });
    await this.core.ack.confirm(ticket);
    return { token: tokenOf(id, { expiresAt: String(expiresAt), uses: String(uses), used: '0', createdAt: String(createdAt), description: description ?? '' }), secret: `${id}.${secret}` };
  }

  async listTokens(): Promise<List<Token>> {
    const ids = await this.core.redis.smembers(this.core.keys.tokens);
    const items: Token[] = [];
    for (const id of ids.sort()) {
      const h = await this.core.redis.hgetall(this.core.keys.token(id));
      if (!h.hash) {
        await this.core.redis.srem(this.core.keys.tokens, id);
        continue;
      }
      items.push(tokenOf(id, h));
    }
    return { items, resourceVersion: await this.core.currentRev() };
  }

  async revokeToken(id: string): Promise<void> {
    const ticket = this.core.ack.ticket();
    const n = await this.core.redis.del(this.core.keys.token(id));
    await this.core.redis.srem(this.core.keys.tokens, id);
    await this.core.ack.confirm(ticket);
    if (n === 0) throw new StraitError('NOT_FOUND', `token ${JSON.stringify(id)} not found`, { kind: 'Token', name: id });
  }

  // ------------------------------------------------------------------ clusters
  /**
   * Registers a new cluster with a join token. A registered id is refused whatever the token (ALREADY_EXISTS):
   * re-joining goes through `rejoinCluster` with the cluster's credential, a lost credential is replaced by the
   * admin with `rotateCredential`.
   */
  async joinCluster(joinToken: string, req: { id: string; podCIDRs: string[]; serviceCIDRs: string[]; labels?: Record<string, string> }, idem?: Idem): Promise<{ cluster: Cluster; credential: string; rejoined: boolean }> {
    const m = /^([0-9a-f]{8})\.([0-9a-f]{32})$/.exec(joinToken);
    if (!m) throw new StraitError('JOIN_TOKEN_INVALID', 'the join token is not of the form <id>.<secret>');
    const { pod, svc, cidrKey, ranges } = clusterRanges(req);
    const secret = randomBytes(24).toString('hex');
    const ts = now();
    const cluster: Omit<Cluster, 'resourceVersion'> = { id: req.id, podCIDRs: pod, serviceCIDRs: svc, ...(req.labels ? { labels: req.labels } : {}), status: 'Ready', joinedAt: ts, lastHeartbeat: ts };
    const credential = `c.${req.id}.${secret}`;
    const k = this.core.keys;
    const keys = {
      token: k.token(m[1]!),
      clusters: k.objects('Cluster'),
      cidrs: k.cidrs,
      clusterRanges: k.ranges('cluster'),
      creds: k.creds,
      joinedVia: k.joinedVia,
      heartbeats: k.heartbeats,
      left: k.left,
      rev: k.rev,
      events: k.events,
    };
    const r = await this.core.script('join', idem, keys, [m[1]!, sha256Hex(m[2]!), String(Date.now()), req.id, encodeObject(cluster), cidrKey, sha256Hex(secret), ranges.map(rangeEntry).join(';'), credential]);
    switch (r[0]) {
      case 'OK': {
        const c = JSON.parse(r[1]!) as Cluster;
        // The credential of the reply: a replayed join answers the credential it issued then.
        return { cluster: c, credential: r[2] ?? credential, rejoined: false };
      }
      default:
        throw scriptError(r, { kind: 'Cluster', name: req.id, cidrKey });
    }
  }

  /**
   * Re-join of a registered cluster that proves who it is with its current credential `c.<id>.<secret>`: checks
   * that the id and CIDRs are the registered ones and answers the cluster with the same credential. Writes
   * nothing, so a re-run of `strait join` changes nothing.
   */
  async rejoinCluster(credential: string, req: { id: string; podCIDRs: string[]; serviceCIDRs: string[] }): Promise<{ cluster: Cluster; credential: string; rejoined: boolean }> {
    const m = /^c\.([a-z0-9][-a-z0-9.]{0,62})\.([0-9a-f]{48})$/.exec(credential);
    if (!m || m[1] !== req.id || !(await this.verifyClusterCredential(req.id, m[2]!))) {
      throw new StraitError('UNAUTHENTICATED', `re-joining cluster ${JSON.stringify(req.id)} needs its current credential (or a join token for a new cluster)`, { cluster: req.id });
    }
    const { cidrKey } = clusterRanges(req);
    const had = await this.core.redis.hget(this.core.keys.cidrs, req.id);
    if (had !== cidrKey) {
      throw new StraitError('ALREADY_EXISTS', `cluster ${JSON.stringify(req.id)} is already registered with other CIDRs (${had}); remove it first or use another id`, { kind: 'Cluster', name: req.id, registered: had });
    }
    return { cluster: await this.objects.get('Cluster', req.id), credential, rejoined: true };
  }

  /** Issues a new credential for a registered cluster; the old one stops working at once. */
  async rotateCredential(id: string, idem?: Idem): Promise<{ cluster: Cluster; credential: string }> {
    const secret = randomBytes(24).toString('hex');
    const r = await this.core.script('rotate', idem, { clusters: this.core.keys.objects('Cluster'), creds: this.core.keys.creds }, [id, sha256Hex(secret), `c.${id}.${secret}`]);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'Cluster', name: id });
    return { cluster: await this.objects.get('Cluster', id), credential: r[2] ?? `c.${id}.${secret}` };
  }

  /** True when `c.<id>.<secret>` is the current credential of cluster `id`. */
  async verifyClusterCredential(id: string, secret: string): Promise<boolean> {
    const h = await this.core.redis.hget(this.core.keys.creds, id);
    return h !== null && h === sha256Hex(secret);
  }

}

/** A cluster's CIDRs canonical, checked not to overlap each other, and as the key the store compares re-joins by. */
function clusterRanges(req: { id: string; podCIDRs: string[]; serviceCIDRs: string[] }): { pod: string[]; svc: string[]; cidrKey: string; ranges: ReturnType<typeof parseCidrRange>[] } {
  const ranges = [...req.podCIDRs, ...req.serviceCIDRs].map(parseCidrRange);
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!, b = ranges[j]!;
      if (rangesOverlap(a, b)) {
        throw new StraitError('CIDR_OVERLAP', `cluster ${req.id}: its own CIDRs ${a.cidr} and ${b.cidr} overlap`, { cluster: req.id, ranges: [{ cidr: a.cidr, conflictsWith: b.cidr }] });
      }
    }
  }
  const pod = req.podCIDRs.map((c) => parseCidrRange(c).cidr);
  const svc = req.serviceCIDRs.map((c) => parseCidrRange(c).cidr);
  return { pod, svc, cidrKey: `pod=${[...pod].sort().join(',')};svc=${[...svc].sort().join(',')}`, ranges };
}

function tokenOf(id: string, h: Record<string, string>): Token {
  return {
    id,
    ...(h.description ? { description: h.description } : {}),
    createdAt: new Date(Number(h.createdAt)).toISOString(),
    expiresAt: new Date(Number(h.expiresAt)).toISOString(),
    uses: Number(h.uses),
    used: Number(h.used),
  };
}
