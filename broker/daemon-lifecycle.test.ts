import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerClient } from '../api/index.js';
import { createLogger, isAlive } from '../host/index.js';
import { waitFor } from '../testing/index.js';
import { startBroker } from './server.js';

// Start, death and stop of the broker daemon and its embedded redis-server (issue #10 items 11 and 12), through the
// built CLI where the exit code and output are the point.
const MAIN = new URL('../dist/cli/main.js', import.meta.url).pathname;
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'strait-lifecycle-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** pids of redis-server processes whose command line names this state dir (what an orphan would be). */
function redisServersOf(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('redis-server') && cmd.some((a) => a.startsWith(dir))) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { exited: Promise<{ code: number | null; stdout: string; stderr: string }>; pid: number; firstLine: Promise<string> } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, STRAIT_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let gotLine!: (l: string) => void;
  const firstLine = new Promise<string>((r) => (gotLine = r));
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    if (stdout.includes('\n')) gotLine(stdout.split('\n')[0]!);
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => child.once('exit', (code) => r({ code, stdout, stderr })));
  return { exited, pid: child.pid!, firstLine };
}

describe('broker daemon lifecycle', () => {
  it('restarts its embedded redis-server when it dies: /readyz is 200 again and writes work', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
    const dir = tmp();
    const h = await startBroker({ listen: '127.0.0.1:0', stateDir: dir, role: 'api', adminToken: 'lifecycle-admin', logger: createLogger('broker', 'silent') });
    const c = new BrokerClient({ baseUrl: h.url, token: 'lifecycle-admin' });
    try {
      await c.createSubnet({ name: 'before', cidr: '10.40.0.0/16' });
      const first = h.embeddedRedis!.pid;
      process.kill(first, 'SIGKILL');
      await waitFor('a new redis-server', () => h.embeddedRedis!.pid !== first && isAlive(h.embeddedRedis!.pid), 30_000);
      expect(h.embeddedRedis!.restarts).toBe(1);
      await waitFor('/readyz 200', () => c.ready().then((r) => r.status === 'ready', () => false), 30_000);
      await waitFor('a write', () => c.createSubnet({ name: 'after', cidr: '10.41.0.0/16' }).then(() => true, () => false), 30_000);
      // appendfsync always: what was acknowledged before the crash is still there.
      expect((await c.listSubnets()).items.map((s) => s.name).sort()).toEqual(['after', 'before']);
    } finally {
      c.close();
      await h.stop();
    }
    expect(redisServersOf(dir)).toEqual([]);
  });

  it('with its port taken exits non-zero with one clear line and leaves no redis-server behind', async () => {
    const dir = tmp();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const r = await cli(['broker', '--listen', `127.0.0.1:${port}`, '--state-dir', dir]).exited;
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([`error LISTEN_FAILED: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE)`]);
      expect(redisServersOf(dir)).toEqual([]);
    } finally {
      taken.close();
    }
  });

  it('SIGTERM stops the broker and the redis-server it started', async () => {
    const dir = tmp();
    const b = cli(['broker', '--listen', '127.0.0.1:0', '--state-dir', dir]);
    const { url } = JSON.parse(await b.firstLine) as { url: string };
    const redisPid = Number(readFileSync(join(dir, 'redis', 'redis-server.pid'), 'utf8'));
    expect(isAlive(redisPid)).toBe(true);
    expect(await new BrokerClient({ baseUrl: url }).health()).toEqual({ status: 'ok' });
    process.kill(b.pid, 'SIGTERM');
    const r = await b.exited;
    expect(r.code).toBe(0);
    expect(isAlive(redisPid)).toBe(false);
    expect(redisServersOf(dir)).toEqual([]);
  });

  it('init-tls --state-dir DIR writes under DIR', async () => {
    const dir = tmp();
    const r = await cli(['broker', 'init-tls', '--state-dir', dir]).exited;
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { cert: string }).cert).toBe(join(dir, 'tls', 'server.crt'));
    for (const f of ['ca.crt', 'ca.key', 'server.crt', 'server.key']) expect(existsSync(join(dir, 'tls', f))).toBe(true);
  });
});
