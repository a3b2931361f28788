import { describe, it, expect } from '@jest/globals';
import { IpamEngine, MemoryAllocationStore } from '../../ipam/index.js';
import { withBlockSource } from './block-source.js';

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
