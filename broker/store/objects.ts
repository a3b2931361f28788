import {
  StraitError,
  type AddressLease,
  type Block,
  type BrokerEgressClusterPolicy,
  type BrokerEgressGateway,
  type BrokerEgressPolicy,
  type Cluster,
  type Gateway,
  type IPPool,
  type Kind,
  type List,
  type ReservedIP,
  type Subnet,
} from '../../api/index.js';
import { encodeObject, now, type Idem, type StoreCore } from './core.js';
import { KEY } from './keys.js';
import { objectOf } from './script-errors.js';

export interface KindObjectMap {
  Cluster: Cluster;
  Subnet: Subnet;
  IPPool: IPPool;
  Block: Block;
  AddressLease: AddressLease;
  Gateway: Gateway;
  EgressGateway: BrokerEgressGateway;
  EgressPolicy: BrokerEgressPolicy;
  EgressClusterPolicy: BrokerEgressClusterPolicy;
  ReservedIP: ReservedIP;
}

export const EGRESS_KINDS = ['EgressGateway', 'EgressPolicy', 'EgressClusterPolicy'] as const;
export type EgressKind = (typeof EGRESS_KINDS)[number];

/** Objects of every kind: reads, the generic writes (create, update, upsert, CAS delete with guards) and the egress objects of clusters. */
export class ObjectStore {
  constructor(private readonly core: StoreCore) {}

  // ------------------------------------------------------------------ reads
  async list<K extends Kind>(kind: K, filter?: (o: KindObjectMap[K]) => boolean): Promise<List<KindObjectMap[K]>> {
    const res = await this.core.redis.multi().get(this.core.keys.rev).hvals(this.core.keys.objects(kind)).hgetall(this.core.keys.heartbeats).exec();
    if (!res) throw new StraitError('UNAVAILABLE', 'Redis transaction aborted');
    for (const [err] of res) if (err) throw err;
    const rev = (res[0]?.[1] as string | null) ?? '0';
    let items = (res[1]?.[1] as string[]).map((j) => JSON.parse(j) as KindObjectMap[K]);
    if (kind === 'Cluster') {
      const hb = res[2]?.[1] as Record<string, string>;
      items = items.map((c) => withHeartbeat(c as Cluster, hb[(c as Cluster).id]) as KindObjectMap[K]);
    }
    if (filter) items = items.filter(filter);
    items.sort((a, b) => String(nameOf(kind, a)).localeCompare(String(nameOf(kind, b)), 'en', { numeric: true }));
    return { items, resourceVersion: rev };
  }

  async get<K extends Kind>(kind: K, name: string): Promise<KindObjectMap[K]> {
    const json = await this.core.redis.hget(this.core.keys.objects(kind), name);
    if (json === null) throw new StraitError('NOT_FOUND', `${kind} ${JSON.stringify(name)} not found`, { kind, name });
    const obj = JSON.parse(json) as KindObjectMap[K];
    if (kind === 'Cluster') {
      const hb = await this.core.redis.hget(this.core.keys.heartbeats, name);
      return withHeartbeat(obj as Cluster, hb ?? undefined) as KindObjectMap[K];
    }
    return obj;
  }

  // ------------------------------------------------------------------ generic writes
  async put<K extends Kind>(
    kind: K,
    name: string,
    mode: 'create' | 'update' | 'upsert',
    obj: Omit<KindObjectMap[K], 'resourceVersion'>,
    expectedRv = '',
    ref?: { kind: Kind; name: string },
    keepCreatedAt = false,
    idem?: Idem,
  ): Promise<KindObjectMap[K]> {
    const k = this.core.keys;
    const objects = k.objects(kind);
    // Without a ref the ref key is the kind's own hash, never read (refField '').
    const keys = { objects, ref: ref ? k.objects(ref.kind) : objects, rev: k.rev, events: k.events, bump: k.reservedGen };
    // A ReservedIP write makes every pool's reserved offsets stale (lease-addresses.lua recomputes them), atomically.
    const bump = kind === 'ReservedIP' ? '1' : '';
    const r = await this.core.script('put', idem, keys, [kind, name, mode, encodeObject(obj), expectedRv, ref?.name ?? '', keepCreatedAt ? '1' : '', bump]);
    return objectOf(r, { kind, name, ref }) as KindObjectMap[K];
  }

  async delete<K extends Kind>(
    kind: K,
    name: string,
    /** guards and cleanup keys are names of the schema (KEY.…), without the store's prefix */
    opts: { expectedRv?: string; guards?: string[]; cleanup?: (readonly [op: 'hdel' | 'srem' | 'del' | 'hsetnow' | 'incr', key: string, field: string])[]; idem?: Idem | undefined } = {},
  ): Promise<KindObjectMap[K]> {
    const k = this.core.keys;
    const guards = opts.guards ?? [];
    // A ReservedIP delete makes every pool's reserved offsets stale (lease-addresses.lua recomputes them), atomically.
    const cleanup = [...(opts.cleanup ?? []), ...(kind === 'ReservedIP' ? [['incr', KEY.reservedGen, '-'] as const] : [])];
    const more = [...guards.map((g) => k.of(g)), ...cleanup.map(([, key]) => k.of(key))];
    const args = [kind, name, opts.expectedRv ?? '', String(Date.now()), guards.length, ...cleanup.flatMap(([op, , field]) => [op, field])];
    const r = (await this.core.replayed(opts.idem)) ?? (await this.core.script('del', opts.idem, { objects: k.objects(kind), rev: k.rev, events: k.events }, args, more));
    // INUSE names the guard key; callers and errors know it by its name in the schema (KEY), without the prefix.
    if (r[0] === 'INUSE' && r[1]?.startsWith(k.prefix)) r[1] = r[1].slice(k.prefix.length);
    return objectOf(r, { kind, name }) as KindObjectMap[K];
  }

  /** Read-modify-write with CAS; retries when someone else wrote in between (unless the caller pinned a version). */
  async update<K extends Kind>(
    kind: K,
    name: string,
    change: (cur: KindObjectMap[K]) => Omit<KindObjectMap[K], 'resourceVersion'> | undefined,
    pinnedRv?: string,
    idem?: Idem,
  ): Promise<KindObjectMap[K]> {
    // A retried update whose write happened answers what it answered then (not a STALE from its own write).
    const seen = await this.core.replayed(idem);
    if (seen) return objectOf(seen, { kind, name }) as KindObjectMap[K];
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(kind, name);
      if (pinnedRv !== undefined && cur.resourceVersion !== pinnedRv) {
        throw new StraitError('STALE_RESOURCE_VERSION', `${kind} ${JSON.stringify(name)} has changed (now at resourceVersion ${cur.resourceVersion}); re-read and retry`, { kind, name, resourceVersion: cur.resourceVersion });
      }
      const next = change(cur);
      if (next === undefined) return cur;
      try {
        return await this.put(kind, name, 'update', next, cur.resourceVersion, undefined, false, idem);
      } catch (e) {
        if (pinnedRv === undefined && attempt < 20 && e instanceof StraitError && e.code === 'STALE_RESOURCE_VERSION') continue;
        throw e;
      }
    }
  }

  /**
   * Creates or replaces one of a cluster's egress objects (keeping its createdAt). Refused with NOT_FOUND unless
   * the cluster is registered, checked in the same script as the write, so nothing is left behind by a cluster
   * that left a moment ago.
   */
  async putEgress<K extends EgressKind>(
    kind: K,
    obj: { cluster: string; name: string; namespace?: string; spec: unknown; labels: Record<string, string> },
    expectedRv = '',
    idem?: Idem,
  ): Promise<KindObjectMap[K]> {
    const ts = now();
    // createdAt goes second: the script swaps in the stored one when it replaces an object.
    const full = { createdAt: ts, cluster: obj.cluster, ...(obj.namespace !== undefined ? { namespace: obj.namespace } : {}), name: obj.name, spec: obj.spec, labels: obj.labels, updatedAt: ts };
    return this.put(kind, egressKey(obj), 'upsert', full as unknown as Omit<KindObjectMap[K], 'resourceVersion'>, expectedRv, { kind: 'Cluster', name: obj.cluster }, true, idem);
  }

  /** Deletes every egress object and every ReservedIP a cluster owns (it left); one event each. Returns how many went. */
  async deleteEgressOf(cluster: string): Promise<number> {
    let n = 0;
    for (const r of (await this.list('ReservedIP', (x) => x.cluster === cluster)).items) {
      try {
        await this.delete('ReservedIP', r.name);
        n++;
      } catch (e) {
        if (!(e instanceof StraitError) || e.code !== 'NOT_FOUND') throw e;
      }
    }
    for (const kind of EGRESS_KINDS) {
      const names = (await this.core.redis.hkeys(this.core.keys.objects(kind))).filter((k) => k.startsWith(`${cluster}/`));
      for (const name of names) {
        try {
          await this.delete(kind, name);
          n++;
        } catch (e) {
          if (!(e instanceof StraitError) || e.code !== 'NOT_FOUND') throw e;
        }
      }
    }
    return n;
  }

}

export function withHeartbeat(c: Cluster, hb: string | undefined): Cluster {
  return hb ? { ...c, lastHeartbeat: new Date(Number(hb)).toISOString() } : c;
}

export function strip<T extends { resourceVersion: string }>(o: T): Omit<T, 'resourceVersion'> {
  const { resourceVersion: _rv, ...rest } = o;
  return rest;
}

function nameOf(kind: Kind, o: unknown): string {
  const x = o as Record<string, string>;
  switch (kind) {
    case 'Cluster':
      return x.id ?? '';
    case 'Block':
      return x.id ?? '';
    case 'AddressLease':
      return x.ip ?? '';
    case 'Gateway':
    case 'EgressGateway':
    case 'EgressClusterPolicy':
    case 'EgressPolicy':
      return egressKey(x as { cluster: string; name: string; namespace?: string });
    default:
      return x.name ?? '';
  }
}

/** Hash field of a cluster-scoped object: `cluster/name`, or `cluster/namespace/name` for namespaced ones. */
export function egressKey(o: { cluster: string; name: string; namespace?: string | undefined }): string {
  return o.namespace === undefined ? `${o.cluster}/${o.name}` : `${o.cluster}/${o.namespace}/${o.name}`;
}
