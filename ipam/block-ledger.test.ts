import { describe, expect, it } from '@jest/globals';
import { BlockLedger } from './block-ledger.js';
import { compileIpamConfig } from './pool-validation.js';
import type { IpamConfig } from './model.js';

const config: IpamConfig = {
  pools: [
    { name: 'a', subnet: '10.0.0.0/24', ips: ['10.0.0.10-10.0.0.200'], blockSize: 26 },
    { name: 'b', subnet: '10.0.0.0/24', ips: ['10.0.0.220-10.0.0.230'], blockSize: 28 },
    { name: 'v6', subnet: 'fd00::/64' },
  ],
};
const clock = { t: 1000 };
const ledger = (): BlockLedger => new BlockLedger(compileIpamConfig(config), () => clock.t);

describe('BlockLedger', () => {
  it.each([
    // address, record's pool → pool, block, offset, usable
    ['10.0.0.12', 'a', 'a', '10.0.0.0/26', 12, true],
    ['10.0.0.5', 'a', 'a', '10.0.0.0/26', 5, false], // in a's subnet, not in its ranges (config edited)
    ['10.0.0.225', 'gone', 'b', '10.0.0.224/28', 1, true], // unknown pool: the pool handing it out now
    ['10.0.0.225', 'v6', 'b', '10.0.0.224/28', 1, true], // wrong family for the named pool
    ['10.0.0.240', 'gone', undefined, undefined, undefined, undefined], // nobody hands it out
    ['10.9.0.1', 'a', undefined, undefined, undefined, undefined],
    ['fd00::1:5', 'v6', 'v6', 'fd00::1:0/122', 5, true],
  ])('places %s of pool %s', (address, pool, wantPool, wantBlock, offset, usable) => {
    const at = ledger().place(address, pool);
    expect(at && { pool: at.pool.pool.name, block: at.block.cidrText, offset: at.offset, usable: at.usable }).toEqual(
      wantPool === undefined ? undefined : { pool: wantPool, block: wantBlock, offset, usable },
    );
  });

  it.each([
    ['10.0.0.64/26', true],
    ['10.0.0.64/25', false], // another block size
    ['10.0.0.65/26', false], // not aligned
    ['not-a-cidr', false],
  ])('names %s as a block of pool a: %s', (cidr, ok) => {
    expect(ledger().get('a')!.blockNamed(cidr)?.cidrText).toBe(ok ? cidr : undefined);
  });

  it('takes leases from the store, ignoring unknown pools and other block sizes', () => {
    const l = ledger();
    l.setLeases([
      { pool: 'a', cidr: '10.0.0.0/26', node: 'n1', leasedAt: 1 },
      { pool: 'a', cidr: '10.0.0.128/26', node: 'n1', leasedAt: 2 },
      { pool: 'a', cidr: '10.0.0.64/27', node: 'n2', leasedAt: 3 },
      { pool: 'gone', cidr: '10.0.0.64/26', node: 'n2', leasedAt: 4 },
    ]);
    expect(l.get('a')!.leasesByNode()).toEqual({ n1: ['10.0.0.0/26', '10.0.0.128/26'] });
    expect(l.usage().map((u) => `${u.node} ${u.cidr} ${u.used}`)).toEqual(['n1 10.0.0.0/26 0', 'n1 10.0.0.128/26 0']);
    l.setLeases([]);
    expect(l.usage()).toEqual([]);
  });

  it('walks unleased blocks with a free address in order, skipping leases noted while walking', () => {
    const l = ledger();
    const a = l.get('a')!;
    a.noteLease(a.blockNamed('10.0.0.64/26')!, 'n1');
    const walk = a.unleasedCidrs();
    expect(walk.next().value).toBe('10.0.0.0/26');
    a.noteLease(a.blockNamed('10.0.0.128/26')!, 'n2');
    expect([...walk]).toEqual(['10.0.0.192/26']);
    // A block whose every usable address is held has nothing to give.
    const full = a.blockNamed('10.0.0.192/26')!;
    for (let o = 0; o < 64; o++) if (full.findFree() >= 0) full.markUsed(full.findFree());
    expect([...a.unleasedCidrs()]).toEqual(['10.0.0.0/26']);
  });

  it('accepts a leased block (grace period starts now) and refuses one that is not the pool\'s', () => {
    const l = ledger();
    const a = l.get('a')!;
    clock.t = 5000;
    const b = l.accept(a, { pool: 'a', cidr: '10.0.0.64/26', node: 'n1', leasedAt: 5000 }, 5000);
    expect(b.emptySince).toBe(5000);
    expect(a.nodeBlocks('n1')).toEqual([b]);
    expect(a.hasFreeFor('n1')).toBe(true);
    expect(a.hasFreeFor('n2')).toBe(false);
    expect(() => l.accept(a, { pool: 'a', cidr: '10.0.0.0/25', node: 'n1', leasedAt: 1 }, 1)).toThrow(expect.objectContaining({ code: 'INVALID_POOL' }));
    a.forgetLease(b, 'n1');
    expect(a.nodeBlocks('n1')).toEqual([]);
    expect([...a.unleasedCidrs()]).toContain('10.0.0.64/26');
  });
});
