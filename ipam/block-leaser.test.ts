import { describe, expect, it } from '@jest/globals';
import type { BlockLeaser } from './block-leaser.js';
import { IpamEngine } from './ipam-engine.js';
import { LocalBlockLeaser } from './local-block-leaser.js';
import type { IpamConfig } from './model.js';
import { MemoryAllocationStore } from './stores/memory-store.js';

const config: IpamConfig = { pools: [{ name: 'p', subnet: '10.77.0.0/24', default: true }] };

describe('LocalBlockLeaser', () => {
  it('keeps allocations in the engine\'s store and takes block leases from the leaser\'s store', async () => {
    const local = new MemoryAllocationStore();
    const broker = new MemoryAllocationStore();
    const engine = new IpamEngine({ store: local, blockLeaser: new LocalBlockLeaser(broker), config });
    const res = await engine.allocate({ containerId: 'c1', ifName: 'eth0' }, { node: { name: 'n1' } });
    expect(res.ips[0]?.address).toMatch(/^10\.77\.0\./);
    expect(await local.list()).toHaveLength(1);
    expect(await broker.list()).toHaveLength(0);
    expect(await broker.listBlocks()).toEqual([expect.objectContaining({ pool: 'p', node: 'n1' })]);
    expect(await local.listBlocks()).toEqual([]);
  });

  it('is the engine\'s default, over its own store (standalone)', async () => {
    const local = new MemoryAllocationStore();
    const engine = new IpamEngine({ store: local, config });
    await engine.allocate({ containerId: 'c1', ifName: 'eth0' }, { node: { name: 'n1' } });
    expect(await local.listBlocks()).toEqual([expect.objectContaining({ pool: 'p', cidr: '10.77.0.0/26', node: 'n1' })]);
  });

  it('takes the first candidate the store grants, reports the ones other nodes hold, and resolves undefined when none is left', async () => {
    const store = new MemoryAllocationStore();
    await store.leaseBlock({ pool: 'p', cidr: '10.0.0.0/26', node: 'other', leasedAt: 1 });
    const leaser = new LocalBlockLeaser(store);
    const heldElsewhere: string[] = [];
    const req = (candidates: string[]) => ({ pool: 'p', node: 'n1', leasedAt: 7, candidates, heldElsewhere: (l: { cidr: string; node: string }) => heldElsewhere.push(`${l.node} ${l.cidr}`) });
    expect(await leaser.lease(req(['10.0.0.0/26', '10.0.0.64/26', '10.0.0.128/26']))).toEqual({ pool: 'p', cidr: '10.0.0.64/26', node: 'n1', leasedAt: 7 });
    expect(heldElsewhere).toEqual(['other 10.0.0.0/26']);
    expect(await leaser.lease(req(['10.0.0.0/26']))).toBeUndefined();
    expect(await leaser.lease(req([]))).toBeUndefined();
    expect((await leaser.list({ node: 'n1' })).map((l) => l.cidr)).toEqual(['10.0.0.64/26']);
    expect(await leaser.release('p', '10.0.0.64/26', 'other')).toBe(false);
    expect(await leaser.release('p', '10.0.0.64/26', 'n1')).toBe(true);
    expect(await leaser.list({ node: 'n1' })).toEqual([]);
  });

  it('walks the candidates lazily: a /64 pool is never enumerated', async () => {
    const engine = new IpamEngine({ store: new MemoryAllocationStore(), config: { pools: [{ name: 'v6', subnet: 'fd00:aa::/64', default: true }] } });
    for (let n = 0; n < 20; n++) await engine.allocate({ containerId: `c${n}`, ifName: 'eth0' }, { node: { name: `n${n}` } });
    expect((await engine.usage())[0]!.blocks).toMatchObject({ n0: ['fd00:aa::/122'], n19: ['fd00:aa::4c0/122'] });
  });
});

describe('a leaser that picks the block itself (as the broker does)', () => {
  /** Hands out the pool's /26 blocks from the top down, so the engine's own choice (the lowest) would differ. */
  function pickingLeaser(blocks: string[]): { leaser: BlockLeaser; leased: string[] } {
    const held = new MemoryAllocationStore();
    const leased: string[] = [];
    const leaser: BlockLeaser = {
      async lease({ pool, node, leasedAt }) {
        const cidr = blocks.shift();
        if (!cidr) return undefined;
        leased.push(cidr);
        await held.leaseBlock({ pool, cidr, node, leasedAt });
        return { pool, cidr, node, leasedAt };
      },
      release: (p, c, n) => held.releaseBlock(p, c, n),
      list: (f) => held.listBlocks(f),
    };
    return { leaser, leased };
  }

  it('allocates inside the blocks the leaser chose and reports exhaustion when it has none left', async () => {
    const { leaser, leased } = pickingLeaser(['10.77.0.192/26', '10.77.0.128/26']);
    const engine = new IpamEngine({ store: new MemoryAllocationStore(), blockLeaser: leaser, config });
    const ips: string[] = [];
    // 63 usable in .192/26 (broadcast .255 excluded) + 64 in .128/26.
    for (let i = 0; i < 127; i++) ips.push((await engine.allocate({ containerId: `c${i}`, ifName: 'eth0' }, { node: { name: 'n1' } })).ips[0]!.address);
    expect(leased).toEqual(['10.77.0.192/26', '10.77.0.128/26']);
    expect(ips.every((a) => /^10\.77\.0\.(1(2[89]|[3-9]\d)|2\d\d)\/24$/.test(a))).toBe(true);
    expect(new Set(ips).size).toBe(127);
    await expect(engine.allocate({ containerId: 'more', ifName: 'eth0' }, { node: { name: 'n1' } })).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
  });

  it('refuses a block that is not one of the pool\'s blocks', async () => {
    const { leaser } = pickingLeaser(['10.77.0.0/25']);
    const engine = new IpamEngine({ store: new MemoryAllocationStore(), blockLeaser: leaser, config });
    await expect(engine.allocate({ containerId: 'c', ifName: 'eth0' }, { node: { name: 'n1' } })).rejects.toMatchObject({ code: 'INVALID_POOL' });
  });
});
