import { StraitError, type IPPool, type IPPoolRules, type Subnet } from '../../api/index.js';
import { parseCidrRange, poolMeta } from '../cidr-range.js';
import { checkPoolRules, poolBlockSize, rulesOf } from '../pool-spec.js';
import { KEY } from './keys.js';
import { encodeObject, now, type Idem, type StoreCore } from './core.js';
import type { ObjectStore } from './objects.js';
import { objectOf } from './script-errors.js';

/** Subnets and IP pools: created with their CIDR checked against the others in one script, deleted while unleased. */
export class PoolStore {
  constructor(
    private readonly core: StoreCore,
    private readonly objects: ObjectStore,
  ) {}

  /** Deletes the free pools of a cluster that is not registered (any more); leased ones stay until they are free. */
  async deleteOwnerlessPools(cluster: string): Promise<number> {
    if ((await this.core.redis.hexists(this.core.keys.objects('Cluster'), cluster)) === 1) return 0;
    let n = 0;
    for (const p of (await this.objects.list('IPPool', (x) => x.cluster === cluster)).items) {
      try {
        await this.deletePool(p.name, p.resourceVersion);
        n++;
      } catch (e) {
        if (!(e instanceof StraitError) || !['IN_USE', 'NOT_FOUND', 'STALE_RESOURCE_VERSION'].includes(e.code)) throw e;
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ subnets and pools
  async createSubnet(req: { name: string; cidr: string; description?: string }, idem?: Idem): Promise<Subnet> {
    const r = parseCidrRange(req.cidr);
    const obj: Omit<Subnet, 'resourceVersion'> = { name: req.name, cidr: r.cidr, ...(req.description !== undefined ? { description: req.description } : {}), createdAt: now() };
    const res = await this.createRanged('Subnet', idem, [req.name, encodeObject(obj), r.start, r.end, r.cidr, '', '', '']);
    return objectOf(res, { kind: 'Subnet', name: req.name, cidr: r.cidr }) as Subnet;
  }

  async deleteSubnet(name: string, expectedRv?: string, idem?: Idem): Promise<Subnet> {
    return this.objects.delete('Subnet', name, { ...(expectedRv ? { expectedRv } : {}), idem, guards: [KEY.subnetPools(name)], cleanup: [['hdel', KEY.ranges('subnet'), name]] });
  }

  /** Creates a pool; its block size and allocation rules are checked as every node agent checks them (pool-spec.ts). */
  async createPool(req: { name: string; cidr: string; blockSize?: number; subnet?: string; purpose: IPPool['purpose']; description?: string; cluster?: string } & Partial<IPPoolRules>, idem?: Idem): Promise<IPPool> {
    const r = parseCidrRange(req.cidr);
    const blockSize = poolBlockSize(req.purpose, r, req.blockSize);
    checkPoolRules({ name: req.name, cidr: r.cidr, blockSize, purpose: req.purpose, ...rulesOf(req) });
    const obj: Omit<IPPool, 'resourceVersion'> = {
      name: req.name,
      cidr: r.cidr,
      blockSize,
      ...(req.subnet !== undefined ? { subnet: req.subnet } : {}),
      purpose: req.purpose,
      ...(req.description !== undefined ? { description: req.description } : {}),
      ...(req.cluster !== undefined ? { cluster: req.cluster } : {}),
      ...rulesOf(req),
      createdAt: now(),
    };
    const res = await this.createRanged('IPPool', idem, [req.name, encodeObject(obj), r.start, r.end, r.cidr, req.subnet ?? '', poolMeta(r, blockSize), req.cluster ?? '']);
    return objectOf(res, { kind: 'IPPool', name: req.name, cidr: r.cidr, subnet: req.subnet, cluster: req.cluster }) as IPPool;
  }

  /** create-ranged.lua for a subnet or a pool; args from the name on (name, json, start, end, cidr, parent, meta, owner). */
  private createRanged(kind: 'Subnet' | 'IPPool', idem: Idem | undefined, args: [string, string, string, string, string, string, string, string]) {
    const k = this.core.keys;
    const keys = {
      objects: k.objects(kind),
      ranges: k.ranges(kind === 'Subnet' ? 'subnet' : 'pool'),
      subnetRanges: k.ranges('subnet'),
      // The parent's pool set (the family prefix alone, never written, for a subnet or a pool without a parent).
      subnetPools: k.subnetPools(args[5]),
      poolMeta: k.poolMeta,
      clusters: k.objects('Cluster'),
      rev: k.rev,
      events: k.events,
    };
    return this.core.script('createRanged', idem, keys, [kind, ...args]);
  }

  /**
   * Deletes a pool (refused while leased). `allowed` sees the stored pool (e.g. to check its owner); the delete
   * is a CAS on that pool's resourceVersion, so what was checked is exactly what goes.
   */
  async deletePool(name: string, expectedRv?: string, allowed?: (pool: IPPool) => void, idem?: Idem): Promise<IPPool> {
    // A retried delete whose write happened answers what it answered then (not NOT_FOUND from its own delete).
    const seen = await this.core.replayed(idem);
    if (seen) return objectOf(seen, { kind: 'IPPool', name }) as IPPool;
    const pool = await this.objects.get('IPPool', name);
    allowed?.(pool);
    if (expectedRv !== undefined && expectedRv !== pool.resourceVersion) {
      throw new StraitError('STALE_RESOURCE_VERSION', `IPPool ${JSON.stringify(name)} has changed (now at resourceVersion ${pool.resourceVersion}); re-read and retry`, { kind: 'IPPool', name, resourceVersion: pool.resourceVersion });
    }
    return this.objects.delete('IPPool', name, {
      expectedRv: pool.resourceVersion,
      idem,
      guards: [KEY.poolBlocks(name), KEY.poolAddresses(name)],
      cleanup: [
        ['hdel', KEY.ranges('pool'), name],
        ['hdel', KEY.poolMeta, name],
        ['del', KEY.poolCursor(name), '-'],
        ['del', KEY.poolOwners(name), '-'],
        ['del', KEY.poolAddressBlocks(name), '-'],
        // a pool created again under this name gets its reserved offsets computed afresh
        ['del', KEY.poolReserved(name), '-'],
        ['incr', KEY.reservedGen, '-'],
        ...(pool.subnet ? [['srem', KEY.subnetPools(pool.subnet), name] as ['srem', string, string]] : []),
      ],
    });
  }

}
