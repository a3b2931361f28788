import { StraitError, type Cluster } from '../../api/index.js';
import { KEY } from './keys.js';
import type { Idem, StoreCore } from './core.js';
import { strip, type ObjectStore } from './objects.js';
import type { PoolStore } from './pools.js';
import { scriptError } from './script-errors.js';

/** A registered cluster's life: its heartbeats (with the live sets the owner GC reads) and its leaving. */
export class HeartbeatStore {
  constructor(
    private readonly core: StoreCore,
    private readonly objects: ObjectStore,
    private readonly pools: PoolStore,
  ) {}

  /**
   * Records a heartbeat. `nodes` / `addressOwners`, when given, are the COMPLETE sets of the cluster's live node
   * names and live address-lease owners (the owner GC returns leases of names missing from them for longer than
   * its grace); when left out, that kind is unknown and nothing of it is collected.
   */
  async heartbeat(id: string, opts: { nodes?: readonly string[]; addressOwners?: readonly string[] } = {}): Promise<Cluster> {
    const set = (xs: readonly string[] | undefined): string[] => (xs === undefined ? ['-1'] : [String(xs.length), ...xs]);
    const k = this.core.keys;
    const keys = {
      clusters: k.objects('Cluster'),
      heartbeats: k.heartbeats,
      lastReported: k.lastReported,
      absentQueue: k.absentQueue,
      liveOf: k.of(KEY.liveOf),
      liveNextOf: k.of(KEY.liveNextOf),
      absentOf: k.of(KEY.absentOf),
      holdersOf: k.of(KEY.holdersOf),
      legacyMissingOf: k.of(KEY.legacyMissingOf),
    };
    const r = await this.core.script('heartbeat', undefined, keys, [id, String(Date.now()), ...set(opts.nodes), ...set(opts.addressOwners)]);
    if (r[0] !== 'OK') throw scriptError(r, { kind: 'Cluster', name: id });
    // Heartbeats themselves do not write events (they would flood the log); only a status flip does.
    return this.objects.update('Cluster', id, (c) => (c.status === 'Ready' ? undefined : { ...strip(c), status: 'Ready' as const }));
  }

  /**
   * Removes a cluster and the pools it owns. Refused with IN_USE (changing nothing) while any of its pools has
   * leased blocks or addresses, whoever holds them: deleting such a pool would pull addresses from under running
   * pods. The lease check is a guard of the same atomic delete as the cluster itself; the pools go right after
   * (a pool leased or created in between is left to the garbage collector, which deletes ownerless pools once
   * they are free).
   */
  async removeCluster(id: string, expectedRv?: string, idem?: Idem): Promise<Cluster> {
    const owned = (await this.objects.list('IPPool', (p) => p.cluster === id)).items;
    let removed: Cluster;
    try {
      removed = await this.objects.delete('Cluster', id, {
        ...(expectedRv ? { expectedRv } : {}),
        idem,
        guards: owned.flatMap((p) => [KEY.poolBlocks(p.name), KEY.poolAddresses(p.name)]),
        cleanup: [
        ['hdel', KEY.creds, id],
        ['hdel', KEY.ranges('cluster'), id],
        ['hdel', KEY.cidrs, id],
        ['hdel', KEY.joinedVia, id],
          ['hdel', KEY.heartbeats, id],
          ['hsetnow', KEY.left, id],
          ['hdel', KEY.lastReported, `node:${id}`],
          ['hdel', KEY.lastReported, `owner:${id}`],
          ['del', KEY.live('node', id), '-'],
          ['del', KEY.live('owner', id), '-'],
          ['del', KEY.legacyMissing('node', id), '-'],
          ['del', KEY.legacyMissing('owner', id), '-'],
          // The holder index (`hold:`) stays: it goes with the cluster's leases, which the GC returns after the grace.
          ['del', KEY.absent('node', id), '-'],
          ['del', KEY.absent('owner', id), '-'],
          ['srem', KEY.absentQueue, `node:${id}`],
          ['srem', KEY.absentQueue, `owner:${id}`],
        ],
      });
    } catch (e) {
      if (e instanceof StraitError && e.code === 'IN_USE') {
        const d = (e.details ?? {}) as { guard?: string; key?: string };
        const guard = d.guard ?? '';
        const pool = /^p[ab]:(.*)$/.exec(d.key ?? '')?.[1] ?? '';
        throw new StraitError('IN_USE', `cluster ${id} still owns pool ${pool}, which ${guard.replace(/^it /, '')}; return those leases (or delete the pool) before the cluster leaves`, { kind: 'Cluster', name: id, pool, guard });
      }
      throw e;
    }
    await this.pools.deleteOwnerlessPools(id);
    await this.objects.deleteEgressOf(id);
    return removed;
  }

}
