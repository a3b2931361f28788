import { describe, expect, it } from '@jest/globals';
import { AllocationIndex } from './allocation-index.js';
import { BlockLedger } from './block-ledger.js';
import { compileIpamConfig } from './pool-validation.js';
import type { AllocationRecord } from './stores/allocation-store.js';

const rec = (address: string, ownerKey: string, containerId: string | undefined, extra: Partial<AllocationRecord> = {}): AllocationRecord => ({
  address,
  family: 'ipv4',
  pool: 'p',
  ownerKey,
  ...(containerId ? { owner: { containerId, ifName: 'eth0' } } : {}),
  updatedAt: 0,
  ...extra,
});

function setup() {
  const clock = { t: 100 };
  let ledger = new BlockLedger(compileIpamConfig({ pools: [{ name: 'p', subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.100'], blockSize: 26 }] }), () => clock.t);
  const index = new AllocationIndex((r) => ledger.place(r.address, r.pool), () => clock.t);
  const block = () => ledger.get('p')!.blockNamed('10.0.0.0/26')!;
  const reconfigure = (ips: string[]) => {
    ledger = new BlockLedger(compileIpamConfig({ pools: [{ name: 'p', subnet: '10.0.0.0/24', ips, blockSize: 26 }] }), () => clock.t);
    index.replaceAll();
  };
  return { clock, index, block, reconfigure, usage: () => index.usedPerPool().get('p') ?? 0 };
}

describe('AllocationIndex', () => {
  it('indexes records by address, owner key and sandbox interface, and keeps block usage in step', () => {
    const { index, block, usage } = setup();
    index.add(rec('10.0.0.5', 'pod:u1/eth0', 'c1'));
    index.add(rec('10.0.0.6', 'pod:u1/eth0', 'c1'));
    index.add(rec('10.0.0.7', 'ctr:c2/eth0', 'c2'));
    expect(index.ofOwner('pod:u1/eth0').map((r) => r.address).sort()).toEqual(['10.0.0.5', '10.0.0.6']);
    expect(index.addressesOf('c2', 'eth0')).toEqual(['10.0.0.7']);
    expect(index.addressesOf('c2', 'net1')).toEqual([]);
    expect(block().used).toBe(3);
    expect(usage()).toBe(3);
    index.remove('10.0.0.7');
    index.remove('10.0.0.7');
    expect(index.get('10.0.0.7')).toBeUndefined();
    expect(index.addressesOf('c2', 'eth0')).toEqual([]);
    expect(block().used).toBe(2);
  });

  it('moves a record between owners and interfaces when it is updated (takeover, parking, new sandbox)', () => {
    const { index, block } = setup();
    index.add(rec('10.0.0.5', 'ctr:c1/eth0', 'c1', { sticky: 'ns/web/0/eth0' }));
    index.add(rec('10.0.0.5', 'sticky:ns/web/0/eth0', undefined, { sticky: 'ns/web/0/eth0' }));
    expect(index.ofOwner('ctr:c1/eth0')).toEqual([]);
    expect(index.addressesOf('c1', 'eth0')).toEqual([]);
    expect(index.ofOwner('sticky:ns/web/0/eth0').map((r) => r.address)).toEqual(['10.0.0.5']);
    index.add(rec('10.0.0.5', 'ctr:c9/eth0', 'c9', { sticky: 'ns/web/0/eth0' }));
    expect(index.addressesOf('c9', 'eth0')).toEqual(['10.0.0.5']);
    expect(block().used).toBe(1);
  });

  it('frees a removed address for reuse only while the pool may hand it out', () => {
    const { index, block, reconfigure, usage } = setup();
    index.add(rec('10.0.0.5', 'k1', 'c1'));
    index.add(rec('10.0.0.6', 'k2', 'c2'));
    reconfigure(['10.0.0.6-10.0.0.100']);
    // 10.0.0.5 is no longer usable: still held, but not counted and not reused once freed.
    expect(usage()).toBe(1);
    expect(block().used).toBe(2);
    const freeBefore = block().free;
    index.remove('10.0.0.5');
    index.remove('10.0.0.6');
    expect(block().free).toBe(freeBefore + 1);
    expect(block().used).toBe(0);
  });

  it('keeps an address no pool holds as a record outside any block', () => {
    const { index, usage } = setup();
    index.add(rec('10.9.9.9', 'k1', 'c1'));
    expect(index.get('10.9.9.9')?.ownerKey).toBe('k1');
    expect(usage()).toBe(0);
    index.remove('10.9.9.9');
    expect(index.all()).toEqual([]);
  });

  it('drops the records of a pool the store no longer has', () => {
    const { index, block } = setup();
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) index.add(rec(a, `k${a}`, `c${a.at(-1)}`));
    index.add(rec('10.0.0.4', 'k4', 'c4', { pool: 'other' }));
    index.removeAbsent('p', new Set(['10.0.0.2']));
    expect(index.all().map((r) => r.address).sort()).toEqual(['10.0.0.2', '10.0.0.4']);
    expect(block().used).toBe(2);
    index.clear();
    expect(index.all()).toEqual([]);
    expect(index.ofOwner('k4')).toEqual([]);
  });
});
