import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpamEngine } from '../ipam-engine.js';
import type { IpamConfig } from '../model.js';
import type { Owner } from '../owner.js';
import { FileAllocationStore } from './file-store.js';

const config: IpamConfig = { pools: [{ name: 'p1', subnet: '10.77.0.0/24', ips: ['10.77.0.10-10.77.0.109'], gateway: '10.77.0.1', default: true }] };
const pod = (i: number | string): Owner => ({ containerId: `ctr-${i}`, ifName: 'eth0', namespace: 'default', podName: `p${i}` });
const req = { node: { name: 'n1' } };

describe('FileAllocationStore durability', () => {
  const dirs: string[] = [];
  const mkdir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'strait-ipam-dur-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('resumes after a crash (no close): owners keep their addresses and nothing is handed out twice', async () => {
    const dir = mkdir();
    const e1 = new IpamEngine({ store: await FileAllocationStore.open(dir), config });
    const before = await Promise.all(Array.from({ length: 30 }, (_, i) => e1.allocate(pod(i), req)));
    await e1.release(pod(0));
    // "Crash": drop e1 without closing anything; a new process opens the same directory.
    const e2 = new IpamEngine({ store: await FileAllocationStore.open(dir), config });
    for (let i = 1; i < 30; i++) expect((await e2.allocate(pod(i), req)).ips).toEqual(before[i]!.ips);
    const taken = new Set(before.slice(1).map((r) => r.ips[0]!.address));
    const fresh = await Promise.all(Array.from({ length: 40 }, (_, i) => e2.allocate(pod(`new-${i}`), req)));
    for (const r of fresh) expect(taken.has(r.ips[0]!.address)).toBe(false);
    expect(new Set(fresh.map((r) => r.ips[0]!.address)).size).toBe(40);
    expect((await e2.usage())[0]!.used).toBe(69);
  });

  it('never duplicates when two store instances (two processes) share one directory', async () => {
    const dir = mkdir();
    const a = new IpamEngine({ store: await FileAllocationStore.open(dir), config });
    const b = new IpamEngine({ store: await FileAllocationStore.open(dir), config });
    await Promise.all([a.sync(), b.sync()]);
    const results = await Promise.allSettled(
      Array.from({ length: 110 }, (_, i) => (i % 2 ? a : b).allocate(pod(i), req)),
    );
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.ips[0]!.address] : []));
    expect(ok.length).toBe(100);
    expect(new Set(ok).size).toBe(100);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'POOL_EXHAUSTED' });
  });

  it('keeps an unreadable record taken, and removes stale temp files on open', async () => {
    const dir = mkdir();
    await FileAllocationStore.open(dir);
    writeFileSync(join(dir, 'allocations', '10.77.0.10'), '{"addr');
    const stale = join(dir, 'tmp', 'crashed-writer-1');
    writeFileSync(stale, '{}');
    utimesSync(stale, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const store = await FileAllocationStore.open(dir);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(await store.get('10.77.0.10')).toMatchObject({ ownerKey: 'unreadable:10.77.0.10' });
    const e = new IpamEngine({ store, config });
    expect((await e.allocate(pod(1), req)).ips[0]!.address).toBe('10.77.0.11/24');
    expect(await store.reserve({ address: '10.77.0.10', family: 'ipv4', pool: 'p1', ownerKey: 'x', updatedAt: 1 })).toBe(false);
  });

  it('rejects non-canonical addresses as keys', async () => {
    const store = await FileAllocationStore.open(mkdir());
    await expect(store.get('fd00:0::1')).rejects.toMatchObject({ code: 'INVALID_IP' });
    await expect(store.get('../etc')).rejects.toMatchObject({ code: 'INVALID_IP' });
  });

  it('keeps allocations across a reconfiguration and validates the new config first', async () => {
    const store = await FileAllocationStore.open(mkdir());
    const e = new IpamEngine({ store, config });
    const first = await e.allocate(pod(1), req);
    await expect(e.reconfigure({ pools: [{ name: 'bad', subnet: '10.0.0.1/24' }] })).rejects.toMatchObject({ code: 'INVALID_POOL' });
    await e.reconfigure({ pools: [{ ...config.pools[0]!, ips: ['10.77.0.10-10.77.0.20'] }, { name: 'p2', subnet: '10.78.0.0/24' }] });
    expect((await e.allocate(pod(1), req)).ips).toEqual(first.ips);
    expect((await e.allocate(pod(2), req)).ips[0]!.address).not.toBe(first.ips[0]!.address);
    expect((await e.usage()).map((u) => [u.pool, u.used])).toEqual([['p1', 2], ['p2', 0]]);
  });
});
