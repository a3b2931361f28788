import { describe, it, expect } from '@jest/globals';
import { IpamEngine, MemoryAllocationStore } from '../../ipam/index.js';
import { withBlockSource, type BlockSource } from './block-source.js';

describe('withBlockSource', () => {
  it('keeps allocations in the local store and takes block leases from the block source', async () => {
    const local = new MemoryAllocationStore();
    const broker = new MemoryAllocationStore();
    const engine = new IpamEngine({ store: withBlockSource(local, broker), config: { pools: [{ name: 'p', subnet: '10.77.0.0/24', default: true }] } });
    const res = await engine.allocate({ containerId: 'c1', ifName: 'eth0' }, { node: { name: 'n1' } });
    expect(res.ips[0]?.address).toMatch(/^10\.77\.0\./);
    expect(await local.list()).toHaveLength(1);
    expect(await broker.list()).toHaveLength(0);
    expect(await broker.listBlocks()).toEqual([expect.objectContaining({ pool: 'p', node: 'n1' })]);
    expect(await local.listBlocks()).toEqual([]);
  });

  it('is the store itself when the node is its own block source (standalone)', () => {
    const local = new MemoryAllocationStore();
    expect(withBlockSource(local, local)).toBe(local);
  });
});

describe('a block source that picks the block itself (leaseAnyBlock, as the broker does)', () => {
  /** Hands out the pool's /26 blocks from the top down, so the engine's own choice (the lowest) would differ. */
  function pickingSource(blocks: string[]): { source: BlockSource; leased: string[] } {
    const held = new MemoryAllocationStore();
    const leased: string[] = [];
    const source: BlockSource = {
      leaseBlock: async () => false,
      releaseBlock: (p, c, n) => held.releaseBlock(p, c, n),
      listBlocks: (f) => held.listBlocks(f),
      async leaseAnyBlock(pool, node, leasedAt) {
        const cidr = blocks.shift();
        if (!cidr) return undefined;
        leased.push(cidr);
        await held.leaseBlock({ pool, cidr, node, leasedAt });
        return { pool, cidr, node, leasedAt };
      },
    };
    return { source, leased };
  }

  it('allocates inside the blocks the source chose and reports exhaustion when it has none left', async () => {
    const { source, leased } = pickingSource(['10.77.0.192/26', '10.77.0.128/26']);
    const engine = new IpamEngine({ store: withBlockSource(new MemoryAllocationStore(), source), config: { pools: [{ name: 'p', subnet: '10.77.0.0/24', default: true }] } });
    const ips: string[] = [];
    // 63 usable in .192/26 (broadcast .255 excluded) + 64 in .128/26.
    for (let i = 0; i < 127; i++) ips.push((await engine.allocate({ containerId: `c${i}`, ifName: 'eth0' }, { node: { name: 'n1' } })).ips[0]!.address);
    expect(leased).toEqual(['10.77.0.192/26', '10.77.0.128/26']);
    expect(ips.every((a) => /^10\.77\.0\.(1(2[89]|[3-9]\d)|2\d\d)\/24$/.test(a))).toBe(true);
    expect(new Set(ips).size).toBe(127);
    await expect(engine.allocate({ containerId: 'more', ifName: 'eth0' }, { node: { name: 'n1' } })).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
  });

  it('refuses a block that is not one of the pool\'s blocks', async () => {
    const { source } = pickingSource(['10.77.0.0/25']);
    const engine = new IpamEngine({ store: withBlockSource(new MemoryAllocationStore(), source), config: { pools: [{ name: 'p', subnet: '10.77.0.0/24', default: true }] } });
    await expect(engine.allocate({ containerId: 'c', ifName: 'eth0' }, { node: { name: 'n1' } })).rejects.toMatchObject({ code: 'INVALID_POOL' });
  });
});
