import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AllocationStore } from './stores/allocation-store.js';
import { FileAllocationStore } from './stores/file-store.js';
import { IpamEngine } from './ipam-engine.js';
import { MemoryAllocationStore } from './stores/memory-store.js';
import type { IpamConfig } from './model.js';
import type { Owner } from './owner.js';

export interface AllocatorBenchOptions {
  /** 'memory' (engine speed) or 'file' (durable, fsync per change). Default memory. */
  store?: 'memory' | 'file';
  /** Allocate+release pairs; default 20,000 for memory, 1,000 for file. */
  pairs?: number;
  /** Owners in flight at once (parallel CNI calls); default 16. */
  concurrency?: number;
  /** Dual stack (one IPv4 + one IPv6 pool): each allocation takes two addresses. Default false. */
  dualStack?: boolean;
}

export interface AllocatorBenchResult {
  store: 'memory' | 'file';
  dualStack: boolean;
  pairs: number;
  concurrency: number;
  seconds: number;
  /** allocate() calls per second (each followed by a release()). */
  allocationsPerSecond: number;
  /** allocate() + release() calls per second. */
  operationsPerSecond: number;
}

/**
 * In-process allocator throughput, for `npm run bench:ipam`: `pairs` owners each allocate and release through the
 * IpamEngine, `concurrency` at a time, on a /16 pool leased in /26 blocks. The file store variant uses a temp dir
 * that is removed afterwards.
 */
export async function benchmarkAllocator(opts: AllocatorBenchOptions = {}): Promise<AllocatorBenchResult> {
  const kind = opts.store ?? 'memory';
  const pairs = opts.pairs ?? (kind === 'memory' ? 20_000 : 1_000);
  const concurrency = opts.concurrency ?? 16;
  const dualStack = opts.dualStack ?? false;
  const config: IpamConfig = {
    pools: [
      { name: 'bench4', subnet: '10.200.0.0/16', gateway: '10.200.0.1', default: true },
      ...(dualStack ? [{ name: 'bench6', subnet: 'fd20::/64', gateway: 'fd20::1', default: true }] : []),
    ],
  };
  const dir = kind === 'file' ? mkdtempSync(join(tmpdir(), 'strait-ipam-bench-')) : undefined;
  const store: AllocationStore = dir ? await FileAllocationStore.open(dir) : new MemoryAllocationStore();
  try {
    const engine = new IpamEngine({ store, config });
    await engine.sync();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < pairs; i = next++) {
        const owner: Owner = { containerId: `bench-${i}`, ifName: 'eth0', namespace: 'bench', podName: `p${i}` };
        await engine.allocate(owner, { node: { name: 'bench-node' } });
        await engine.release(owner);
      }
    };
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { store: kind, dualStack, pairs, concurrency, seconds, allocationsPerSecond: pairs / seconds, operationsPerSecond: (2 * pairs) / seconds };
  } finally {
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
