// `npm run bench:broker`: leases/s through the HTTP API with 64 concurrent clients, next to redis-benchmark on the
// same Redis in the same run (the ceiling), and pool-write → watch-event latency at 100 concurrent watchers.
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BrokerClient, type WatchEvent } from '../api/index.js';
import { createLogger, run, startDaemon, stopPid } from '../host/index.js';
import * as S from './redis-scripts.js';
import { startBroker } from './server.js';

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const CLIENTS = 64;
const WATCHERS = 100;
const WRITES = Number(process.env.BENCH_WRITES ?? 200);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strait-bench-'));
  const socket = join(dir, 'redis.sock');
  const redisD = startDaemon(['redis-server', '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'no'], { logFile: join(dir, 'redis.log') });
  const token = 'bench-admin-token';
  try {
    for (let i = 0; i < 200; i++) {
      try {
        const r = new Redis({ path: socket, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
        r.on('error', () => undefined);
        await r.connect();
        await r.ping();
        r.disconnect();
        break;
      } catch {
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    const broker = await startBroker({ listen: '127.0.0.1:0', stateDir: dir, redisOptions: { path: socket }, role: 'api', adminToken: token, logger: createLogger('bench', 'silent'), bookmarkMs: 5000 });
    const admin = new BrokerClient({ baseUrl: broker.url, token });
    const t = await admin.createToken({ uses: 2 });
    const cred = (await admin.joinCluster({ id: 'bench', podCIDRs: ['100.64.0.0/16'] }, t.token)).credentials.token;
    await admin.createPool({ name: 'big', cidr: '10.0.0.0/8', blockSize: 30 });
    await admin.createPool({ name: 'ceiling', cidr: '11.0.0.0/8', blockSize: 30 });

    // ---------------------------------------------------------------- leases/s over HTTP, 64 clients
    const clients = Array.from({ length: CLIENTS }, () => new BrokerClient({ baseUrl: broker.url, token: cred }));
    let leases = 0;
    const lat: number[] = [];
    const deadline = Date.now() + DURATION_MS;
    const t0 = Date.now();
    await Promise.all(
      clients.map(async (c, i) => {
        let k = 0;
        while (Date.now() < deadline) {
          const s = performance.now();
          if (k++ % 4 === 3) await c.leaseAddress('big', { owner: `o-${i}-${k}` });
          else await c.leaseBlock('big', { cluster: 'bench', node: `n${i}` });
          lat.push(performance.now() - s);
          leases++;
        }
      }),
    );
    const httpRate = leases / ((Date.now() - t0) / 1000);

    // ---------------------------------------------------------------- the ceiling: redis-benchmark, same Redis
    const sha = (await broker.store.redis.script('LOAD', S.LEASE_BLOCK)) as string;
    const rb = async (args: string[]): Promise<number> => {
      const r = await run(['redis-benchmark', '-s', socket, '-c', String(CLIENTS), '-n', '200000', '-q', ...args], { timeoutMs: 300_000 });
      const m = /([\d.]+) requests per second/.exec(r.stdout.replace(/\r/g, '\n'));
      return m ? Number(m[1]) : NaN;
    };
    const ceilingScript = await rb(['EVALSHA', sha, '0', broker.store.prefix, 'ceiling', 'bench', 'n1', new Date().toISOString()]);
    const ceilingIncr = await rb(['INCR', '{bench}:counter']);

    // ---------------------------------------------------------------- pool write → event at 100 watchers
    const sent = new Map<string, number>();
    let current = 0;
    const delays: number[] = [];
    const ac = new AbortController();
    setMaxListeners(WATCHERS + 10, ac.signal);
    const watchers = Array.from({ length: WATCHERS }, () => new BrokerClient({ baseUrl: broker.url, token: cred }));
    const since = (await admin.listPools()).resourceVersion;
    const onEvent = (e: WatchEvent): void => {
      if (e.kind !== 'IPPool') return;
      delays.push(performance.now() - (sent.get(e.resourceVersion) ?? current));
    };
    const pending = watchers.map((w) => w.watch(since, onEvent, ac.signal));
    while ((broker.hub?.size ?? 0) < WATCHERS) await new Promise((r) => setTimeout(r, 20));
    // Writes are serial, so an event whose revision the writer has not been answered with yet belongs to the
    // write in flight: its start time is `current`.
    const writer = new BrokerClient({ baseUrl: broker.url, token });
    for (let i = 0; i < WRITES; i++) {
      const s = performance.now();
      current = s;
      const p = await writer.putPool('big', { description: `w${i}` });
      sent.set(p.resourceVersion, s);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 500));
    ac.abort();
    await Promise.all(pending);
    const expected = WRITES * WATCHERS;

    const out = {
      machine: `${cpus().length} CPU(s), load ${(await run(['cat', '/proc/loadavg'])).stdout.trim().split(' ').slice(0, 3).join(' ')}`,
      httpLeasesPerSecond: Math.round(httpRate),
      httpLeaseLatencyMs: { p50: +pct(lat, 50).toFixed(2), p99: +pct(lat, 99).toFixed(2) },
      redisBenchmarkLeaseScriptPerSecond: Math.round(ceilingScript),
      redisBenchmarkIncrPerSecond: Math.round(ceilingIncr),
      ratioHttpToScriptCeiling: +(httpRate / ceilingScript).toFixed(3),
      watchers: WATCHERS,
      poolWrites: WRITES,
      eventsMeasured: delays.length,
      eventsExpected: expected,
      propagationMs: { p50: +pct(delays, 50).toFixed(2), p99: +pct(delays, 99).toFixed(2), max: +Math.max(...delays).toFixed(2) },
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    for (const c of [...clients, ...watchers, admin, writer]) c.close();
    await broker.stop();
  } finally {
    await stopPid(redisD.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
