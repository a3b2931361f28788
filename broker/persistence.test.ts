import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerClient, isStraitError, type Block } from '../api/index.js';
import { isAlive, stopPid } from '../host/index.js';

// The real built CLI (CI builds before tests): a kill -9 needs a real process.
const MAIN = new URL('../dist/cli/main.js', import.meta.url).pathname;
const ADMIN = 'persistence-admin-token';
const dir = mkdtempSync(join(tmpdir(), 'strait-broker-kill-'));
const started: number[] = [];

function startBrokerProcess(): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'broker', '--listen', '127.0.0.1:0', '--state-dir', dir], {
      env: { ...process.env, STRAIT_ADMIN_TOKEN: ADMIN, STRAIT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child.pid!);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${err}`)), 30_000);
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve({ child, url: (JSON.parse(line) as { url: string }).url });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code}: ${err}`));
    });
  });
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const redisPid = (): number => {
  const f = join(dir, 'redis', 'redis-server.pid');
  return existsSync(f) ? Number(readFileSync(f, 'utf8')) : 0;
};

afterAll(async () => {
  for (const pid of started) await stopPid(pid);
  const r = redisPid();
  if (r > 0) await stopPid(r);
  rmSync(dir, { recursive: true, force: true });
});

/** Leases blocks with 16 clients until `stop`; returns every lease the broker acknowledged. */
async function leaseUntilKilled(url: string, cred: string, onFirst: () => void): Promise<Block[]> {
  const acked: Block[] = [];
  let failed = false;
  await Promise.all(
    Array.from({ length: 16 }, async (_, i) => {
      const c = new BrokerClient({ baseUrl: url, token: cred, timeoutMs: 5000 });
      try {
        while (!failed) {
          try {
            acked.push(await c.leaseBlock('p', { cluster: 'east', node: `n${i}` }));
            if (acked.length === 50) onFirst();
          } catch (e) {
            if (isStraitError(e, 'UNAVAILABLE') || isStraitError(e, 'OUTCOME_UNKNOWN') || isStraitError(e, 'INTERNAL')) failed = true;
            else throw e;
          }
        }
      } finally {
        c.close();
      }
    }),
  );
  return acked;
}

describe('kill -9', () => {
  it('of the broker, and then of its Redis too, loses no acknowledged lease', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
    let b = await startBrokerProcess();
    const admin = new BrokerClient({ baseUrl: b.url, token: ADMIN });
    const t = await admin.createToken();
    const cred = (await admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, t.token)).credentials.token;
    await admin.createPool({ name: 'p', cidr: '10.64.0.0/12', blockSize: 28 });
    admin.close();

    // 1. kill -9 the broker mid-traffic; its redis-server lives on and the next broker reuses it.
    const firstRedis = redisPid();
    const acked1 = await leaseUntilKilled(b.url, cred, () => void kill9(b.child));
    expect(acked1.length).toBeGreaterThanOrEqual(50);
    b = await startBrokerProcess();
    expect(redisPid()).toBe(firstRedis);
    let c = new BrokerClient({ baseUrl: b.url, token: ADMIN });
    let listed = new Set((await c.listBlocks({ pool: 'p' })).items.map((x) => `${x.id}=${x.cidr}`));
    for (const x of acked1) expect(listed.has(`${x.id}=${x.cidr}`)).toBe(true);
    c.close();

    // 2. kill -9 the broker and its redis-server together: the append-only file (fsync always) has every lease.
    const acked2 = await leaseUntilKilled(b.url, cred, () => {
      const pid = redisPid();
      void kill9(b.child).then(() => process.kill(pid, 'SIGKILL'));
    });
    while (isAlive(firstRedis)) await new Promise((r) => setTimeout(r, 20));
    b = await startBrokerProcess();
    expect(redisPid()).not.toBe(firstRedis);
    c = new BrokerClient({ baseUrl: b.url, token: ADMIN });
    const items = (await c.listBlocks({ pool: 'p' })).items;
    listed = new Set(items.map((x) => `${x.id}=${x.cidr}`));
    for (const x of [...acked1, ...acked2]) expect(listed.has(`${x.id}=${x.cidr}`)).toBe(true);
    expect(new Set(items.map((x) => x.cidr)).size).toBe(items.length);
    // And the broker goes on leasing after the crash without handing out a held block again.
    const next = await c.leaseBlock('p', { cluster: 'east', node: 'after' });
    expect(listed.has(`${next.id}=${next.cidr}`)).toBe(false);
    expect(items.some((x) => x.cidr === next.cidr)).toBe(false);
    c.close();

    // A graceful stop also stops the embedded redis-server.
    const rp = redisPid();
    b.child.kill('SIGTERM');
    await new Promise((r) => b.child.once('exit', r));
    for (let i = 0; i < 100 && isAlive(rp); i++) await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(rp)).toBe(false);
  });
});
