import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import type { AllocationRecord, AllocationStore, BlockLease } from './allocation-store.js';
import { canonicalIp, parseIp } from '../ip-address.js';
import { KeyedMutex } from '../keyed-mutex.js';

/**
 * A durable AllocationStore for a standalone node: one file per address (like CNI host-local) and one per block
 * lease, under `dir`.
 *
 * Crash safety: a record is written to a temp file and fsync'ed, then `link()`ed to its final name, and the
 * directory is fsync'ed before `reserve()` resolves. `link()` fails with EEXIST atomically, so the address file
 * appears complete or not at all, and exactly one caller wins it, even across processes sharing the directory.
 * After a crash the files are the truth: reopening resumes with every address ever returned still taken.
 *
 * Deletions (release, block return) are not fsync'ed: losing one in a crash leaves the address taken until GC frees
 * it (a leak for a while, never a duplicate), and it saves a disk flush per CNI DEL. Directory fsyncs of concurrent
 * callers are coalesced (group commit), so parallel ADDs share flushes.
 *
 * Reads go to disk every time (no cache), so several processes see each other's allocations. `replace()` is
 * serialized per address within one process; across processes it is compare-then-rename, which is only used
 * for release/parking of an address its caller holds.
 */
export class FileAllocationStore implements AllocationStore {
  private readonly allocDir: string;
  private readonly blockDir: string;
  private readonly tmpDir: string;
  private readonly locks = new KeyedMutex();
  private readonly syncers = new Map<string, GroupSync>();
  private seq = 0;
  private readonly tag = `${process.pid}-${randomBytes(4).toString('hex')}`;

  private constructor(readonly dir: string) {
    this.allocDir = join(dir, 'allocations');
    this.blockDir = join(dir, 'blocks');
    this.tmpDir = join(dir, 'tmp');
  }

  /** Opens (creating if needed) the store in `dir`. Leftover temp files of crashed writers are removed. */
  static async open(dir: string): Promise<FileAllocationStore> {
    const s = new FileAllocationStore(dir);
    for (const d of [dir, s.allocDir, s.blockDir, s.tmpDir]) await fs.mkdir(d, { recursive: true });
    const cutoff = Date.now() - 60_000;
    for (const name of await fs.readdir(s.tmpDir)) {
      const p = join(s.tmpDir, name);
      const st = await fs.stat(p).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) await fs.rm(p, { force: true });
    }
    await syncDir(dir);
    return s;
  }

  private addressFile(address: string): string {
    // Canonical text only: two spellings of one IPv6 address must map to one file.
    if (canonicalIp(address) !== address) throw new StraitError('INVALID_IP', `not a canonical address: ${address}`, { value: address });
    return join(this.allocDir, address);
  }

  private blockFile(pool: string, cidr: string): string {
    if (pool.includes('/') || pool.startsWith('.')) throw new StraitError('INVALID_POOL', `bad pool name for a file: ${pool}`);
    return join(this.blockDir, `${pool}_${cidr.replace('/', '_')}`);
  }

  private async writeTemp(data: unknown): Promise<string> {
    const tmp = join(this.tmpDir, `${this.tag}-${this.seq++}`);
    const fh = await fs.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(JSON.stringify(data));
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  }

  /** Creates `path` with `data` unless it exists. True if created. Durable before resolving. */
  private async createExclusive(path: string, dir: string, data: unknown): Promise<boolean> {
    const tmp = await this.writeTemp(data);
    try {
      await fs.link(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      await fs.rm(tmp, { force: true });
    }
    await this.syncDir(dir);
    return true;
  }

  private syncDir(dir: string): Promise<void> {
    let g = this.syncers.get(dir);
    if (!g) this.syncers.set(dir, (g = new GroupSync(dir)));
    return g.sync();
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new StraitError('IPAM_STORE_CORRUPT', `unreadable IPAM record ${path}`, { path });
    }
  }

  /** A record that cannot be read still holds its address: never hand out what might be in use. */
  private async readRecord(address: string): Promise<AllocationRecord | undefined> {
    try {
      return await this.readJson<AllocationRecord>(this.addressFile(address));
    } catch (e) {
      if (e instanceof StraitError && e.code === 'IPAM_STORE_CORRUPT') {
        return { address, family: parseIp(address).family, pool: '', ownerKey: `unreadable:${address}`, updatedAt: 0 };
      }
      throw e;
    }
  }

  async reserve(record: AllocationRecord): Promise<boolean> {
    const path = this.addressFile(record.address);
    return this.locks.run(record.address, async () => {
      if (await this.createExclusive(path, this.allocDir, record)) return true;
      const cur = await this.readRecord(record.address);
      return cur?.ownerKey === record.ownerKey;
    });
  }

  async replace(address: string, expectedOwnerKey: string, next?: AllocationRecord): Promise<boolean> {
    const path = this.addressFile(address);
    if (next && next.address !== address) throw new Error(`replace: record address ${next.address} differs from ${address}`);
    return this.locks.run(address, async () => {
      const cur = await this.readRecord(address);
      if (!cur || cur.ownerKey !== expectedOwnerKey) return false;
      if (next) {
        const tmp = await this.writeTemp(next);
        await fs.rename(tmp, path);
        await this.syncDir(this.allocDir);
      } else {
        await fs.rm(path, { force: true });
      }
      return true;
    });
  }

  async get(address: string): Promise<AllocationRecord | undefined> {
    return this.readRecord(address);
  }

  async list(filter: { pool?: string; ownerKey?: string; sticky?: string } = {}): Promise<AllocationRecord[]> {
    const out: AllocationRecord[] = [];
    for (const name of await fs.readdir(this.allocDir)) {
      const r = await this.readRecord(name);
      if (!r) continue;
      if (filter.pool !== undefined && r.pool !== filter.pool) continue;
      if (filter.ownerKey !== undefined && r.ownerKey !== filter.ownerKey) continue;
      if (filter.sticky !== undefined && r.sticky !== filter.sticky) continue;
      out.push(r);
    }
    return out;
  }

  async leaseBlock(lease: BlockLease): Promise<boolean> {
    const path = this.blockFile(lease.pool, lease.cidr);
    return this.locks.run(`block ${path}`, async () => {
      if (await this.createExclusive(path, this.blockDir, lease)) return true;
      const cur = await this.readJson<BlockLease>(path);
      return cur?.node === lease.node;
    });
  }

  async releaseBlock(pool: string, cidr: string, node: string): Promise<boolean> {
    const path = this.blockFile(pool, cidr);
    return this.locks.run(`block ${path}`, async () => {
      const cur = await this.readJson<BlockLease>(path);
      if (cur?.node !== node) return false;
      await fs.rm(path, { force: true });
      return true;
    });
  }

  async listBlocks(filter: { pool?: string; node?: string } = {}): Promise<BlockLease[]> {
    const out: BlockLease[] = [];
    for (const name of await fs.readdir(this.blockDir)) {
      const b = await this.readJson<BlockLease>(join(this.blockDir, name));
      if (!b) continue;
      if (filter.pool !== undefined && b.pool !== filter.pool) continue;
      if (filter.node !== undefined && b.node !== filter.node) continue;
      out.push(b);
    }
    return out;
  }

  async close(): Promise<void> {}
}

/**
 * Group commit for one directory: a caller that arrives while a flush runs waits for the next one (which starts
 * after its own change), and every caller arriving meanwhile shares that next flush.
 */
class GroupSync {
  private running: Promise<void> | undefined;
  private pending: Promise<void> | undefined;

  constructor(private readonly dir: string) {}

  sync(): Promise<void> {
    if (!this.running) {
      const p: Promise<void> = syncDir(this.dir).finally(() => {
        if (this.running === p) this.running = undefined;
      });
      this.running = p;
      return p;
    }
    this.pending ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.pending = undefined;
        return this.sync();
      });
    return this.pending;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
