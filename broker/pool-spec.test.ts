import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Redis } from 'ioredis';
import type { IPPoolCreate } from '../api/index.js';
import { outcomeCode, redisSnapshot, startTestRedis, type TestRedis } from '../testing/index.js';
import { startTestBroker, type TestBroker } from './testing.js';

// The broker's IPPool carries the whole allocation spec (the CRD's fields), checked with the node agents' own pool
// validation: what the broker stores is what every node agent accepts, and bad input changes nothing.
let redis: TestRedis;
let broker: TestBroker;
let conn: Redis;
const snapshot = (): Promise<string> => redisSnapshot(conn);

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  conn = new Redis({ path: redis.socket });
}, 30_000);

afterAll(async () => {
  conn?.disconnect();
  await broker?.stop();
  await redis?.stop();
});

const FULL: IPPoolCreate = {
  name: 'fe', cidr: '10.250.64.0/24', purpose: 'pods',
  ips: ['10.250.64.10-10.250.64.50'], excludeIPs: ['10.250.64.20'], gateway: '10.250.64.1',
  routes: [{ dst: '10.96.0.0/12' }, { dst: '192.0.2.0/24', gw: '10.250.64.2' }], vlan: 42, default: true, disable: false,
  namespaceAffinity: { matchLabels: { 'kubernetes.io/metadata.name': 'frontend' } },
  nodeAffinity: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] },
  podAffinity: { matchLabels: { app: 'web' } },
};

describe('broker IPPool spec (real broker on real Redis)', () => {
  it('round-trips the whole spec through create, get, list and the watch', async () => {
    const since = (await broker.admin.listPools()).resourceVersion;
    const { name: _n, purpose: _p, cidr: _c, ...rules } = FULL;
    const created = await broker.admin.createPool(FULL);
    expect(created).toMatchObject({ ...rules, blockSize: 26 });
    expect(await broker.admin.getPool('fe')).toEqual(created);
    expect((await broker.admin.listPools()).items).toEqual([created]);
    const events: unknown[] = [];
    const ac = new AbortController();
    // A watch stream may end at any time (docs/api.md): resume from the last resourceVersion, as every caller must.
    let rv = since;
    while (!ac.signal.aborted) {
      await broker.admin.watch(rv, (e) => {
        rv = e.resourceVersion;
        if (e.kind !== 'IPPool') return;
        events.push(e.object);
        ac.abort();
      }, ac.signal);
    }
    expect(events).toEqual([created]);
  });

  it('PUT replaces the rules as a whole (a rule left out is removed) and checks them', async () => {
    const cur = await broker.admin.getPool('fe');
    const next = await broker.admin.putPool('fe', { ips: ['10.250.64.100-10.250.64.110'], disable: true, resourceVersion: cur.resourceVersion });
    expect(next).toMatchObject({ ips: ['10.250.64.100-10.250.64.110'], disable: true, purpose: 'pods', cidr: '10.250.64.0/24' });
    for (const gone of ['gateway', 'routes', 'vlan', 'default', 'namespaceAffinity', 'excludeIPs']) expect(next).not.toHaveProperty(gone);
    const before = await snapshot();
    await expect(broker.admin.putPool('fe', { ips: ['10.9.9.9'] })).rejects.toMatchObject({ code: 'INVALID_POOL', message: expect.stringContaining('ips[0] 10.9.9.9 is outside') });
    expect(await snapshot()).toEqual(before);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['ips outside the cidr', { ips: ['10.0.0.1-10.0.0.9'] }, 'INVALID_POOL', /ips\[0\].*outside/],
    ['a gateway outside the cidr', { gateway: '10.0.0.1' }, 'INVALID_POOL', /gateway 10\.0\.0\.1 is outside/],
    ['a route of the other family', { routes: [{ dst: 'fd00::/64' }] }, 'INVALID_POOL', /routes\[0\]\.dst fd00::\/64 is of the other family/],
    ['In without values', { podAffinity: { matchExpressions: [{ key: 'app', operator: 'In' }] } }, 'INVALID_POOL', /podAffinity\.matchExpressions\[0\]: operator In needs values/],
    ['a vlan out of range', { vlan: 5000 }, 'INVALID_ARGUMENT', /vlan/],
    ['an unknown field', { protocol: 'tcp' }, 'INVALID_ARGUMENT', /Unrecognized key: "protocol"/],
    ['an unknown field in a route', { routes: [{ dst: '10.96.0.0/12', metric: 5 }] }, 'INVALID_ARGUMENT', /routes\.0.*"metric"/],
    ['an unknown field in a selector', { nodeAffinity: { matchLabel: { a: 'b' } } }, 'INVALID_ARGUMENT', /nodeAffinity.*"matchLabel"/],
    ['an IPv6 /64 with blocks a node agent cannot hold', { cidr: 'fd00:128::/64', blockSize: 96 }, 'INVALID_POOL', /blockSize 96 must be a prefix length between 112 and 126 for a \/64 ipv6 pool/],
    ['an IPv4 /31 pods pool (no node block fits)', { cidr: '10.250.99.0/31' }, 'INVALID_POOL', /too small for node blocks/],
  ])('refuses %s with a clear 4xx, nothing stored', async (_what, extra, code, message) => {
    const before = await snapshot();
    const err = await broker.admin.createPool({ ...FULL, name: 'bad', cidr: '10.250.65.0/24', ips: undefined, gateway: undefined, routes: undefined, excludeIPs: undefined, ...extra } as unknown as IPPoolCreate).catch((e: unknown) => e);
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(await snapshot()).toEqual(before);
  });

  it('a /64 pods pool gets /122 blocks by default; other purposes keep their own block rule', async () => {
    expect(await broker.admin.createPool({ name: 'p6', cidr: 'fd00:128::/64', purpose: 'pods' })).toMatchObject({ blockSize: 122 });
    expect(await broker.admin.createPool({ name: 'eg1', cidr: '192.0.2.7/32', purpose: 'egress' })).toMatchObject({ blockSize: 32 });
    expect(await outcomeCode(broker.admin.createPool({ name: 'p6b', cidr: 'fd00:129::/64', purpose: 'pods', blockSize: 127 }))).toBe('INVALID_POOL');
  });

  it('a single address lease (an egress IP) skips the addresses ReservedIPs hold', async () => {
    await broker.admin.createPool({ name: 'egress-rsv-v4', cidr: '172.31.1.200/29', purpose: 'egress' });
    // Leases are taken from the top down: without the reservation the first would be .206.
    await broker.admin.putReservedIP('vips', { ips: ['172.31.1.203-172.31.1.206'] });
    const jt = await broker.admin.createToken({ uses: 1 });
    await broker.admin.joinCluster({ id: 'rsv', podCIDRs: ['10.77.0.0/16'] }, jt.token);
    const ips = [];
    for (const owner of ['a', 'b']) ips.push((await broker.admin.leaseAddress('egress-rsv-v4', { owner, cluster: 'rsv' })).ip);
    expect(ips).toEqual(['172.31.1.202', '172.31.1.201']);
    await expect(broker.admin.leaseAddress('egress-rsv-v4', { owner: 'c', cluster: 'rsv' })).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });    await broker.admin.deleteReservedIP('vips');
  });

  it('an address lease reads the ReservedIPs inside its one script call, kept current through every change', async () => {
    await broker.admin.createPool({ name: 'egress-rsv-1', cidr: '172.31.2.0/29', purpose: 'egress' });
    const jt = await broker.admin.createToken({ uses: 1 });
    await broker.admin.joinCluster({ id: 'rsv1', podCIDRs: ['10.78.0.0/16'] }, jt.token);
    const lease = async (owner: string): Promise<string> => (await broker.admin.leaseAddress('egress-rsv-1', { owner, cluster: 'rsv1' })).ip;
    let round = 0;
    /** Every address a lease hands out until the pool is exhausted (sorted by the last octet), then returned. */
    const leaseAll = async (): Promise<number[]> => {
      const ips: string[] = [];
      for (;;) {
        const r = await lease(`r${round}-${ips.length}`).catch((e: unknown) => e as Error);
        if (typeof r !== 'string') {
          expect(r).toMatchObject({ code: 'POOL_EXHAUSTED' });
          break;
        }
        ips.push(r);
      }
      round++;
      for (const ip of ips) await broker.admin.releaseAddress(ip);
      return ips.map((ip) => Number(ip.split('.')[3])).sort((a, b) => a - b);
    };
    // The pool's offsets computed first (none), then a reservation: the next lease sees it.
    expect(await leaseAll()).toEqual([1, 2, 3, 4, 5, 6]);
    await broker.admin.putReservedIP('rsv1-vip', { ips: ['172.31.2.6'] });
    expect(await leaseAll()).toEqual([1, 2, 3, 4, 5]);
    // One call to Redis per lease: no read of the ReservedIP hash (a MULTI with HVALS) before the script.
    const probe = new Redis({ path: redis.socket });
    await probe.config('RESETSTAT');
    const one = await lease('one');
    const stats = await probe.info('commandstats');
    probe.disconnect();
    await broker.admin.releaseAddress(one);
    expect(stats).toMatch(/^cmdstat_evalsha:calls=1,/m);
    expect(stats).not.toMatch(/^cmdstat_(multi|hvals):/m);
    // Replaced: the new range holds, the old one is free.
    const r = await broker.admin.getReservedIP('rsv1-vip');
    await broker.admin.putReservedIP('rsv1-vip', { ips: ['172.31.2.3-172.31.2.4'], resourceVersion: r.resourceVersion });
    expect(await leaseAll()).toEqual([1, 2, 5, 6]);
    // A store from before the per-pool offsets (no `pr:`, no `rgen`): computed on the first lease.
    await conn.del('{strait}:pr:egress-rsv-1', '{strait}:rgen');
    expect(await leaseAll()).toEqual([1, 2, 5, 6]);
    // Deleted: the addresses are free again.
    await broker.admin.deleteReservedIP('rsv1-vip');
    expect(await leaseAll()).toEqual([1, 2, 3, 4, 5, 6]);
    // A pool deleted and created again under its name: the ReservedIP that names it is applied afresh, against the
    // new range (offset 3 of the old range must not hold in the new one).
    await broker.admin.putReservedIP('rsv1-vip2', { ips: ['172.31.2.3'] });
    expect(await leaseAll()).toEqual([1, 2, 4, 5, 6]);
    await broker.admin.deletePool('egress-rsv-1');
    await broker.admin.createPool({ name: 'egress-rsv-1', cidr: '172.31.2.0/29', purpose: 'egress' });
    expect(await leaseAll()).toEqual([1, 2, 4, 5, 6]);
    await broker.admin.deletePool('egress-rsv-1');
    await broker.admin.createPool({ name: 'egress-rsv-1', cidr: '172.31.2.8/29', purpose: 'egress' });
    expect(await leaseAll()).toEqual([9, 10, 11, 12, 13, 14]);
    await broker.admin.deleteReservedIP('rsv1-vip2');
    await broker.admin.deletePool('egress-rsv-1');
  });

  it('ReservedIPs: stored with the pools they fall in; an address outside every pool is a clear 400, nothing stored', async () => {
    const r = await broker.admin.putReservedIP('routers', { ips: ['10.250.64.1', 'fd00:128::1-fd00:128::9'], reason: 'gateways' });
    expect(r).toMatchObject({ name: 'routers', ips: ['10.250.64.1', 'fd00:128::1-fd00:128::9'], reason: 'gateways', pools: ['fe', 'p6'] });
    expect(r).not.toHaveProperty('cluster');
    expect(await broker.admin.getReservedIP('routers')).toEqual(r);
    expect((await broker.admin.listReservedIPs()).items).toEqual([r]);
    const replaced = await broker.admin.putReservedIP('routers', { ips: ['10.250.64.2'], resourceVersion: r.resourceVersion });
    expect(replaced).toMatchObject({ ips: ['10.250.64.2'], pools: ['fe'], createdAt: r.createdAt });
    const before = await snapshot();
    await expect(broker.admin.putReservedIP('stray', { ips: ['10.250.64.5', '10.9.9.9'] })).rejects.toMatchObject({ code: 'INVALID_RESERVED_IP', status: 400, message: expect.stringContaining('ips[1] 10.9.9.9 is outside every pool') });
    await expect(broker.admin.putReservedIP('stray', { ips: ['10.250.64.9-10.250.65.1'] })).rejects.toMatchObject({ code: 'INVALID_RESERVED_IP' });
    await expect(broker.admin.putReservedIP('stray', { ips: ['10.250.64.300'] })).rejects.toMatchObject({ status: 400 });
    await expect(broker.admin.putReservedIP('stray', { ips: [], cidr: 'x' } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(broker.admin.putReservedIP('routers', { ips: ['10.250.64.3'], resourceVersion: r.resourceVersion })).rejects.toMatchObject({ code: 'STALE_RESOURCE_VERSION' });
    expect(await snapshot()).toEqual(before);
    await broker.admin.deleteReservedIP('routers');
    await expect(broker.admin.getReservedIP('routers')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
