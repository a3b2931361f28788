import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * A real Redis Sentinel group for one test: one primary, two replicas (`--replicaof`) and three
 * `redis-server --sentinel` with generated config files, all on free loopback TCP ports (Sentinel monitors and
 * announces by IP and port, so no unix sockets here). Files live in a temp dir named with a run id, removed by
 * `stop()`; every process is ended by its PID.
 */
export interface TestSentinelGroup {
  readonly runId: string;
  readonly dir: string;
  /** the master name the sentinels monitor */
  readonly name: string;
  readonly sentinels: { host: string; port: number }[];
  /** ports of the data servers; [0] started as the primary */
  readonly serverPorts: number[];
  /** PID of the data server on `port`, -1 if it is not running */
  pidOf(port: number): number;
  /** the primary as the sentinels name it now */
  primaryPort(): Promise<number>;
  /** kill -9 of the data server on `port` */
  kill(port: number): Promise<void>;
  /** waits until the sentinels name a primary other than `oldPort`; resolves with its port */
  waitForPromotion(oldPort: number, withinMs?: number): Promise<number>;
  /**
   * The sentinels' failover events so far (`+sdown`, `+odown`, `+try-failover`, `+elected-leader`,
   * `-failover-abort-…`, `+switch-master`, …), one line each, prefixed with the sentinel's index.
   */
  sentinelEvents(): string[];
  stop(): Promise<void>;
}

export interface TestSentinelOptions {
  /** sentinel `down-after-milliseconds` (default 500) */
  downAfterMs?: number;
  /**
   * sentinel `failover-timeout` (default 1500). It bounds a leader election, and a sentinel whose election failed
   * (three sentinels voting for themselves) tries again only 2 × this after it started: with 5000 one trial in six
   * took 12.4 s to promote (docs/broker.md, "Redis Sentinel").
   */
  failoverTimeoutMs?: number;
  /** run id for the temp dir and the master name (default random) */
  runId?: string;
}

/** A free loopback TCP port (bound and released; the server binds it a moment later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function launch(args: string[], ready: RegExp, what: string, keep?: (line: string) => void): Promise<ChildProcess> {
  const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (keep) c.stdout?.on('data', (b: Buffer) => b.toString().split('\n').forEach((l) => l && keep(l)));
  return new Promise<ChildProcess>((resolve, reject) => {
    let out = '';
    // Generous: on a loaded machine a replica's first sync has taken several seconds.
    const timer = setTimeout(() => fail(new Error(`${what} did not start: ${out}`)), 30_000);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      c.kill('SIGKILL');
      reject(e);
    };
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        c.stdout?.off('data', onData);
        c.stderr?.off('data', onData);
        // Keep draining the pipes so the server never blocks on a full pipe.
        c.stdout?.resume();
        c.stderr?.resume();
        resolve(c);
      }
    };
    c.stdout?.on('data', onData);
    c.stderr?.on('data', onData);
    c.once('error', (e) => fail(new Error(`${what} could not be started (is the Debian package redis-server installed?): ${e.message}`)));
    c.once('exit', (code) => fail(new Error(`${what} exited with ${code}: ${out}`)));
  });
}

function waitExit(c: ChildProcess | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
  });
}

async function askSentinel(port: number, name: string): Promise<number | undefined> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const a = (await r.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null;
    return a ? Number(a[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

export async function startTestSentinelGroup(opts: TestSentinelOptions = {}): Promise<TestSentinelGroup> {
  const runId = opts.runId ?? `s${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `strait-sentinel-${runId}-`));
  const name = `strait-${runId}`;
  const servers = new Map<number, ChildProcess>();
  const sentinelProcs: ChildProcess[] = [];
  const events: string[] = [];
  const FAILOVER_EVENT = /[+-](sdown|odown|try-failover|elected-leader|vote-for-leader|failover-abort-\S+|failover-end\S*|selected-slave|promoted-slave|switch-master)\b/;
  const stop = async (): Promise<void> => {
    const all = [...servers.values(), ...sentinelProcs];
    for (const c of all) c.kill('SIGKILL');
    await Promise.all(all.map(waitExit));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const serverPorts = [await freePort(), await freePort(), await freePort()];
    const [primary, ...replicas] = serverPorts as [number, number, number];
    const common = ['--bind', '127.0.0.1', '--repl-diskless-sync-delay', '0', '--save', '', '--appendonly', 'no', '--loglevel', 'notice', '--protected-mode', 'no'];
    servers.set(primary, await launch(['--port', String(primary), '--dir', dir, '--dbfilename', `dump-${primary}.rdb`, ...common], /ready to accept connections/i, `redis-server :${primary}`));
    for (const p of replicas) {
      // A replica is "ready" before its first sync; the sentinels and WAIT see it once it is in sync.
      servers.set(p, await launch(['--port', String(p), '--dir', dir, '--dbfilename', `dump-${p}.rdb`, '--replicaof', '127.0.0.1', String(primary), ...common], /MASTER <-> REPLICA sync: Finished with success/i, `redis-server replica :${p}`));
    }
    const sentinels: { host: string; port: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its config file as it learns the topology: a file of its own, writable.
      writeFileSync(conf, [
        `port ${port}`,
        'bind 127.0.0.1',
        'protected-mode no',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
        `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 500}`,
        `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 1500}`,
        `sentinel parallel-syncs ${name} 2`,
        '',
      ].join('\n'));
      sentinelProcs.push(await launch([conf, '--sentinel'], /Sentinel ID is|\+monitor master/i, `redis-sentinel :${port}`, (l) => {
        if (FAILOVER_EVENT.test(l)) events.push(`s${i} ${l}`);
      }));
      sentinels.push({ host: '127.0.0.1', port });
    }
    const primaryPort = async (): Promise<number> => {
      for (const s of sentinels) {
        const p = await askSentinel(s.port, name);
        if (p !== undefined) return p;
      }
      throw new Error('no sentinel answers');
    };
    // The sentinels have found each other and the replicas before the group is handed out (a failover needs both).
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = new Redis({ host: '127.0.0.1', port: sentinels[0]!.port, maxRetriesPerRequest: 0, lazyConnect: true });
      r.on('error', () => undefined);
      let known = false;
      try {
        await r.connect();
        const m = (await r.call('SENTINEL', 'master', name)) as string[];
        const field = (k: string): number => Number(m[m.indexOf(k) + 1]);
        known = field('num-slaves') >= 2 && field('num-other-sentinels') >= 2;
      } catch {
        /* not yet */
      } finally {
        r.disconnect();
      }
      if (known) break;
      if (Date.now() > deadline) throw new Error('the sentinels did not discover the replicas and each other within 15 s');
      await new Promise((res) => setTimeout(res, 100));
    }
    return {
      runId,
      dir,
      name,
      sentinels,
      serverPorts,
      pidOf: (port) => {
        const c = servers.get(port);
        return c && c.exitCode === null && c.signalCode === null ? (c.pid ?? -1) : -1;
      },
      primaryPort,
      async kill(port) {
        const c = servers.get(port);
        c?.kill('SIGKILL');
        await waitExit(c);
      },
      async waitForPromotion(oldPort, withinMs = 30_000) {
        const until = Date.now() + withinMs;
        for (;;) {
          const p = await primaryPort().catch(() => oldPort);
          if (p !== oldPort) return p;
          if (Date.now() > until) throw new Error(`no replica was promoted within ${withinMs} ms`);
          await new Promise((res) => setTimeout(res, 50));
        }
      },
      sentinelEvents: () => [...events],
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
