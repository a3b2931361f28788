import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../api/index.js';
import type { AllocationRequest } from './allocation-request.js';
import { IpamEngine } from './ipam-engine.js';
import type { IpamConfig } from './model.js';
import type { Owner } from './owner.js';
import { MemoryAllocationStore } from './stores/memory-store.js';

const node = (name = 'n1'): AllocationRequest => ({ node: { name } });
const pod = (i: number | string, extra: Partial<Owner> = {}): Owner => ({ containerId: `ctr-${i}`, ifName: 'eth0', namespace: 'default', podName: `pod-${i}`, ...extra });
const v4 = (r: { ips: { address: string; family: string }[] }): string => r.ips.find((i) => i.family === 'ipv4')!.address.split('/')[0]!;

function engine(config: IpamConfig, clock = { t: 1_000_000 }) {
  const store = new MemoryAllocationStore();
  return { store, clock, e: new IpamEngine({ store, config, now: () => clock.t }) };
}

async function drain(e: IpamEngine, req = node(), prefix = 'x'): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; ; i++) {
    try {
      out.push(v4(await e.allocate(pod(`${prefix}${i}`), req)));
    } catch (err) {
      if (isStraitError(err, 'POOL_EXHAUSTED')) return out;
      throw err;
    }
  }
}

describe('IpamEngine allocation', () => {
  it('returns CNI-shaped results with gateway, prefix and routes', async () => {
    const { e } = engine({ pools: [{ name: 'p1', subnet: '10.77.0.0/24', ips: ['10.77.0.10-10.77.0.29'], gateway: '10.77.0.1', default: true, routes: [{ dst: '0.0.0.0/0' }] }] });
    const r = await e.allocate(pod(1), node());
    expect(r.ips).toEqual([{ address: '10.77.0.10/24', gateway: '10.77.0.1', family: 'ipv4', pool: 'p1' }]);
    expect(r.routes).toEqual([{ dst: '0.0.0.0/0' }]);
    expect(r.explanation.join('\n')).toMatch(/cluster-default/);
  });

  it('never hands out network, broadcast, gateway, excluded or reserved addresses', async () => {
    const { e } = engine({
      pools: [{ name: 'p', subnet: '10.9.0.0/28', gateway: '10.9.0.1', excludeIPs: ['10.9.0.4-10.9.0.5'], default: true }],
      reserved: [{ ips: ['10.9.0.10'] }],
    });
    const got = await drain(e);
    expect(got.sort()).toEqual(['10.9.0.11', '10.9.0.12', '10.9.0.13', '10.9.0.14', '10.9.0.2', '10.9.0.3', '10.9.0.6', '10.9.0.7', '10.9.0.8', '10.9.0.9']);
  });

  it('is idempotent per owner and frees on release, idempotently', async () => {
    const { e, store } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true }] });
    const a = await e.allocate(pod(1), node());
    expect((await e.allocate(pod(1), node())).ips).toEqual(a.ips);
    expect((await e.allocate(pod(1, { ifName: 'net1' }), node())).ips).not.toEqual(a.ips);
    expect(await e.release(pod(1))).toHaveLength(1);
    expect(await e.release(pod(1))).toEqual([]);
    expect(await e.release(pod('never'))).toEqual([]);
    expect(await store.list()).toHaveLength(1);
  });

  it('serializes concurrent ADDs of one owner into one address', async () => {
    const { e, store } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true }] });
    const results = await Promise.all(Array.from({ length: 10 }, () => e.allocate(pod(1), node())));
    expect(new Set(results.map(v4)).size).toBe(1);
    expect(await store.list()).toHaveLength(1);
  });

  it('keys by pod uid when given: a new sandbox keeps the address and a late DEL of the old one frees nothing', async () => {
    const { e } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true }] });
    const first = await e.allocate(pod('old', { podUid: 'uid-1' }), node());
    const second = await e.allocate(pod('new', { podUid: 'uid-1' }), node());
    expect(second.ips).toEqual(first.ips);
    expect(await e.release(pod('old', { podUid: 'uid-1' }))).toEqual([]);
    expect((await e.check(pod('new', { podUid: 'uid-1' })))?.ips).toEqual(first.ips);
    expect(await e.check(pod('old', { podUid: 'uid-1' }))).toBeUndefined();
    expect(await e.release(pod('new', { podUid: 'uid-1' }))).toHaveLength(1);
  });

  it('gives dual stack from one IPv4 and one IPv6 pool', async () => {
    const { e } = engine({
      pools: [
        { name: 'v4', subnet: '10.0.0.0/24', gateway: '10.0.0.1', default: true },
        { name: 'v6', subnet: 'fd00:1::/64', gateway: 'fd00:1::1', default: true, routes: [{ dst: '::/0' }] },
      ],
    });
    const r = await e.allocate(pod(1), node());
    expect(r.ips).toEqual([
      { address: '10.0.0.2/24', gateway: '10.0.0.1', family: 'ipv4', pool: 'v4' },
      { address: 'fd00:1::2/64', gateway: 'fd00:1::1', family: 'ipv6', pool: 'v6' },
    ]);
    expect(r.routes).toEqual([{ dst: '::/0' }]);
  });

  it('rolls back the first family when the second has no room', async () => {
    const { e, store } = engine({
      pools: [
        { name: 'v4', subnet: '10.0.0.0/24', default: true },
        { name: 'v6', subnet: 'fd00::/120', ips: ['fd00::5'], default: true },
      ],
    });
    await e.allocate(pod(1), node());
    await expect(e.allocate(pod(2), node())).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
    expect(await store.list()).toHaveLength(2);
    expect((await e.usage()).find((u) => u.pool === 'v4')!.used).toBe(1);
  });

  it('falls through to the next candidate pool when one is exhausted, and explains', async () => {
    const { e } = engine({ pools: [{ name: 'small', subnet: '10.0.0.0/30' }, { name: 'big', subnet: '10.1.0.0/24' }] });
    const req = { ...node(), netconfPools: { ipv4: ['small', 'big'] } };
    // A /30 without a gateway: .1 is its pods' implicit gateway, .2 its one address.
    expect(v4(await e.allocate(pod(1), req))).toBe('10.0.0.2');
    const r = await e.allocate(pod(2), req);
    expect(v4(r)).toBe('10.1.0.2');
    expect(r.explanation.join('\n')).toMatch(/skipped pool "small": exhausted/);
  });

  it('fails cleanly with every pool and its reason', async () => {
    const { e } = engine({ pools: [{ name: 'off', subnet: '10.0.0.0/24', disable: true }, { name: 'tiny', subnet: '10.1.0.0/30' }] });
    const req = { ...node(), netconfPools: { ipv4: ['off', 'tiny', 'ghost'] } };
    await e.allocate(pod(1), req);
    const err = await e.allocate(pod(2), req).catch((x: unknown) => x);
    expect(isStraitError(err, 'NO_POOL_MATCHES')).toBe(true);
    expect(String((err as Error).message)).toMatch(/"off" is disabled.*"ghost".*"tiny" has no free address/);
    await expect(e.allocate(pod(4), { ...node(), netconfPools: { ipv4: ['ghost'] } })).rejects.toMatchObject({ code: 'POOL_NOT_FOUND' });
  });

  it('rejects bad owners and requests without changing anything', async () => {
    const { e, store } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true }] });
    await expect(e.allocate({ containerId: '', ifName: 'eth0' }, node())).rejects.toMatchObject({ code: 'INVALID_OWNER' });
    await expect(e.allocate(pod(1, { ifName: 'a-very-long-ifname' }), node())).rejects.toMatchObject({ code: 'INVALID_OWNER' });
    await expect(e.allocate(pod(1), { node: { name: '' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(e.allocate(pod(1), { ...node(), podAnnotations: { 'ipam.strait.io/ippool': 'x' } })).rejects.toMatchObject({ code: 'INVALID_POOL_ANNOTATION' });
    expect(await store.list()).toEqual([]);
  });

  it('validates its config up front', () => {
    expect(() => new IpamEngine({ store: new MemoryAllocationStore(), config: { pools: [{ name: 'a', subnet: '10.0.0.0/24' }, { name: 'b', subnet: '10.0.0.0/25' }] } })).toThrow(
      expect.objectContaining({ code: 'POOL_OVERLAP' }),
    );
  });

  it('serves IPv6 from a /64 without enumerating it', async () => {
    const { e } = engine({ pools: [{ name: 'v6', subnet: 'fd00:aa::/64', default: true }] });
    const got = new Set<string>();
    for (let i = 0; i < 200; i++) got.add((await e.allocate(pod(i), node())).ips[0]!.address);
    expect(got.size).toBe(200);
    expect([...got][0]).toBe('fd00:aa::2/64');
  });

  it('does not reuse a just-freed address at once (next-fit)', async () => {
    const { e } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true }] });
    const a = v4(await e.allocate(pod(1), node()));
    await e.release(pod(1));
    expect(v4(await e.allocate(pod(2), node()))).not.toBe(a);
  });
});

describe('blocks', () => {
  const cfg: IpamConfig = { pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true, blockSize: 28 }] };

  it('leases separate blocks per node and a new block when one fills', async () => {
    const { e, store } = engine(cfg);
    for (let i = 0; i < 16; i++) await e.allocate(pod(`a${i}`), node('n1'));
    await e.allocate(pod('b0'), node('n2'));
    const leases = (await store.listBlocks()).map((b) => `${b.node} ${b.cidr}`).sort();
    expect(leases).toEqual(['n1 10.0.0.0/28', 'n1 10.0.0.16/28', 'n2 10.0.0.32/28']);
  });

  it('returns empty blocks only after the grace period, and never a block in use', async () => {
    const { e, store, clock } = engine(cfg);
    await e.allocate(pod(1), node('n1'));
    await e.allocate(pod(2), node('n2'));
    await e.release(pod(1));
    expect(await e.releaseEmptyBlocks(60_000)).toEqual([]);
    clock.t += 60_000;
    expect((await e.releaseEmptyBlocks(60_000)).map((b) => `${b.node} ${b.cidr}`)).toEqual(['n1 10.0.0.0/28']);
    expect((await store.listBlocks()).map((b) => b.node)).toEqual(['n2']);
    // The freed block is available again.
    expect(v4(await e.allocate(pod(3), node('n3')))).toMatch(/^10\.0\.0\./);
  });

  it('exhausts a node when no block is left even if other nodes have room (no borrowing)', async () => {
    const { e } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/27', default: true, blockSize: 28 }] });
    await e.allocate(pod(1), node('n1'));
    await e.allocate(pod(2), node('n2'));
    await expect(e.allocate(pod(3), node('n3'))).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
  });

  it('reports usage per pool', async () => {
    const { e } = engine(cfg);
    await e.allocate(pod(1), node('n1'));
    expect(await e.usage()).toEqual([{ pool: 'p', family: 'ipv4', total: 253, used: 1, free: 252, blocks: { n1: ['10.0.0.0/28'] } }]);
  });
});

describe('StatefulSet fixed IPs', () => {
  const cfg: IpamConfig = { pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true }, { name: 'p6', subnet: 'fd00::/64', default: true }] };
  const sts = (c: string, ordinal: number, name = 'web'): Owner => ({ containerId: c, ifName: 'eth0', namespace: 'prod', podName: `${name}-${ordinal}`, statefulSet: { name, ordinal } });

  it('keeps each ordinal on its addresses across delete/recreate and scale down/up', async () => {
    const { e } = engine(cfg);
    const first = await Promise.all([0, 1, 2].map((o) => e.allocate(sts(`a${o}`, o), node('n1'))));
    // Scale down to 1, churn other pods, scale back up on another node.
    await e.release(sts('a1', 1));
    await e.release(sts('a2', 2));
    for (let i = 0; i < 20; i++) await e.allocate(pod(i), node('n1'));
    const again = await Promise.all([1, 2].map((o) => e.allocate(sts(`b${o}`, o), node('n2'))));
    expect(again.map((r) => r.ips)).toEqual([first[1]!.ips, first[2]!.ips]);
    // Delete and recreate ordinal 0 (new container id, no DEL in between: takeover).
    expect((await e.allocate(sts('c0', 0), node('n1'))).ips).toEqual(first[0]!.ips);
    expect(await e.release(sts('a0', 0))).toEqual([]);
  });

  it('is sticky per store: a pod of the ordinal on another node agent (its own store) gets a fresh address', async () => {
    // What docs/ipam.md promises today: each node agent keeps its allocations in its own store.
    const n1 = engine(cfg);
    const n2 = engine(cfg);
    const first = await n1.e.allocate(sts('a0', 0), node('n1'));
    await n1.e.release(sts('a0', 0));
    await n2.e.allocate(pod('other'), node('n2'));
    const moved = await n2.e.allocate(sts('b0', 0), node('n2'));
    expect(moved.ips).not.toEqual(first.ips);
    expect(moved.explanation.join('\n')).not.toMatch(/keeps/);
    // The parked address stays held on the first node until the StatefulSet is gone.
    expect((await n1.store.list()).map((r) => r.ownerKey)).toEqual(['sticky:prod/web/0/eth0', 'sticky:prod/web/0/eth0']);
  });

  it('does not give a parked address to anyone else', async () => {
    const { e } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/29', default: true }] });
    const held = v4(await e.allocate(sts('a', 0), node()));
    await e.release(sts('a', 0));
    const others = await drain(e);
    expect(others).toHaveLength(4);
    expect(others).not.toContain(held);
  });

  it('frees parked addresses once the StatefulSet is gone (GC), after the grace period', async () => {
    const { e, store, clock } = engine(cfg);
    await e.allocate(sts('a', 0), node());
    await e.allocate(sts('b', 0, 'db'), node());
    await e.release(sts('a', 0));
    await e.release(sts('b', 0, 'db'));
    expect(await e.collectGarbage({ statefulSets: ['prod/db'] }, 30_000)).toEqual({ orphans: [], unpin: [] });
    clock.t += 30_000;
    const plan = await e.collectGarbage({ statefulSets: ['prod/db'] }, 30_000);
    expect(plan.unpin.map((r) => r.sticky)).toEqual(['prod/web/0/eth0', 'prod/web/0/eth0']);
    expect((await store.list()).map((r) => r.sticky)).toEqual(['prod/db/0/eth0', 'prod/db/0/eth0']);
  });
});

describe('garbage collection', () => {
  it('releases orphans older than the grace period only', async () => {
    const { e, store, clock } = engine({ pools: [{ name: 'p', subnet: '10.0.0.0/24', default: true }] });
    await e.allocate(pod(1), node());
    await e.allocate(pod(2, { podUid: 'u2' }), node());
    await e.allocate(pod(3), node());
    clock.t += 10_000;
    await e.allocate(pod(4), node()); // young orphan: may not be in the live view yet
    const live = { containerIds: ['ctr-1'], podUids: ['u2'] };
    const plan = await e.planGc(live, 5_000);
    expect(plan.orphans.map((r) => r.owner?.containerId)).toEqual(['ctr-3']);
    await e.collectGarbage(live, 5_000);
    expect((await store.list()).map((r) => r.owner?.containerId).sort()).toEqual(['ctr-1', 'ctr-2', 'ctr-4']);
  });
});

describe('IpamEngine with a shared sticky leaser (each node its own store, as in broker mode)', () => {
  const config: IpamConfig = { pools: [{ name: 'p1', subnet: '10.77.0.0/24', ips: ['10.77.0.10-10.77.0.99'], blockSize: 28, default: true }] };
  const ord0 = (c: string): Owner => ({ containerId: c, ifName: 'eth0', namespace: 'prod', podName: 'db-0', podUid: `uid-${c}`, statefulSet: { name: 'db', ordinal: 0 } });

  /** The broker's semantics in memory: one address per (pool, sticky key), taken from the top of the pool. */
  function sharedLeaser(addresses: string[]) {
    const bound = new Map<string, string>();
    const released: string[] = [];
    return {
      bound,
      released,
      leaser: {
        lease: async ({ pool, sticky }: { pool: string; sticky: string }) => {
          const k = `${pool} ${sticky}`;
          if (!bound.has(k)) {
            const next = addresses.shift();
            if (!next) return undefined;
            bound.set(k, next);
          }
          return bound.get(k);
        },
        release: async (pool: string, address: string, sticky: string) => {
          if (bound.get(`${pool} ${sticky}`) === address) bound.delete(`${pool} ${sticky}`);
          released.push(address);
        },
      },
    };
  }

  it('an ordinal keeps its address on another node; others never get it; the StatefulSet gone releases the binding', async () => {
    const shared = sharedLeaser(['10.77.0.99']);
    const a = new IpamEngine({ store: new MemoryAllocationStore(), config, stickyLeaser: shared.leaser });
    const b = new IpamEngine({ store: new MemoryAllocationStore(), config, stickyLeaser: shared.leaser });
    const r1 = await a.allocate(ord0('c1'), node('n1'));
    expect(v4(r1)).toBe('10.77.0.99');
    expect(r1.explanation.join('\n')).toContain('bound at the broker, on any node');
    await a.release(ord0('c1'));
    expect(v4(await b.allocate(ord0('c2'), node('n2')))).toBe('10.77.0.99');
    expect(await drain(a, node('n1'))).not.toContain('10.77.0.99');
    await b.release(ord0('c2'));
    await b.collectGarbage({ statefulSets: [] }, 0);
    expect(shared.released).toEqual(['10.77.0.99']);
    expect(shared.bound.size).toBe(0);
  });

  it('falls back to the node\'s blocks when the leaser has nothing or an address the pool may not use, and says so', async () => {
    const none = new IpamEngine({ store: new MemoryAllocationStore(), config, stickyLeaser: sharedLeaser([]).leaser });
    const r = await none.allocate(ord0('c1'), node('n1'));
    expect(v4(r)).toBe('10.77.0.10');
    expect(r.explanation.join('\n')).toContain('sticky on this node only');
    const outside = new IpamEngine({ store: new MemoryAllocationStore(), config, stickyLeaser: sharedLeaser(['10.77.0.200']).leaser });
    const r2 = await outside.allocate(ord0('c1'), node('n1'));
    expect(v4(r2)).toBe('10.77.0.10');
    expect(r2.explanation.join('\n')).toContain('10.77.0.200 for prod/db/0/eth0 is not usable in pool "p1"');
  });
});
