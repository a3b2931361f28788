// `npm run bench:broker`: leases/s through the HTTP API with 64 concurrent clients, next to redis-benchmark on the
// same Redis in the same run (the ceiling), and pool-write → watch-event latency at 100 concurrent watchers.
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BrokerClient, type WatchEvent } from '../api/index.js';
import { run, startDaemon, stopPid } from '../host/index.js';
import * as S from './redis-scripts.js';
import { BrokerStore } from './broker-store.js';

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const CLIENTS = 64;
const WATCHERS = 100;
const WRITES = Number(process.env.BENCH_WRITES ?? 200);
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1);
const MAIN = new URL('../cli/main.js', import.meta.url).pathname;

function spawnReplica(dir: string, socket: string, token: string): Promise<{ url: string; pid: number }> {
  return new Promise((resolve, reject) => {
    // BENCH_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`) goes to the broker processes, for profiling them under load.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, MAIN, 'broker', '--listen', '127.0.0.1:0', '--state-dir', dir, '--redis', `unix://${socket}`, '--role', 'api'], {
      env: { ...process.env, STRAIT_ADMIN_TOKEN: token, STRAIT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve({ url: (JSON.parse(out.split('\n')[0]!) as { url: string }).url, pid: child.pid! });
    });
    child.once('exit', (code) => reject(new Error(`broker replica exited with ${code}`)));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const BARE_SERVER = `require('node:http').createServer((q, s) => { let b = ''; q.on('data', (c) => (b += c)); q.on('end', () => {
  const o = JSON.parse(b || '{}'); s.writeHead(201, { 'content-type': 'application/json' }); s.end(JSON.stringify({ ok: true, o })); }); })
  .listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;

/** The floor of any Node HTTP API on this machine: a bare node:http server echoing JSON, same clients, same load. */
async function bareHttpBaseline(): Promise<{ perSecond: number; cpuMsPerRequest: number }> {
  const child = spawn(process.execPath, ['-e', BARE_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((r) => child.stdout!.once('data', (d: Buffer) => r(Number(String(d).trim()))));
    const clients = Array.from({ length: CLIENTS }, () => new BrokerClient({ baseUrl: `http://127.0.0.1:${port}`, token: 'x' }));
    const c0 = cpuSeconds(child.pid!);
    let n = 0;
    const t0 = Date.now();
    const end = t0 + DURATION_MS;
    await Promise.all(clients.map(async (c) => {
      while (Date.now() < end) {
        await c.request('POST', '/v1/ippools/big/blocks', { cluster: 'bench', node: 'n1' });
        n++;
      }
    }));
    const perSecond = n / ((Date.now() - t0) / 1000);
    const cpuMsPerRequest = ((cpuSeconds(child.pid!) - c0) * 1000) / n;
    for (const c of clients) c.close();
    return { perSecond: Math.round(perSecond), cpuMsPerRequest: +cpuMsPerRequest.toFixed(3) };
  } finally {
    child.kill();
  }
}

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
    // The API runs as real broker processes (`strait broker --role api --redis unix://…`), REPLICAS of them sharing
    // the Redis, as it would be deployed; this process only plays the clients.
    const replicas = await Promise.all(Array.from({ length: REPLICAS }, () => spawnReplica(dir, socket, token)));
    const urls = replicas.map((r) => r.url);
    const store = new BrokerStore(new Redis({ path: socket }));
    const admin = new BrokerClient({ baseUrl: urls[0]!, token });
    const t = await admin.createToken({ uses: 2 });
    const cred = (await admin.joinCluster({ id: 'bench', podCIDRs: ['100.64.0.0/16'] }, t.token)).credentials.token;
    await admin.createPool({ name: 'big', cidr: '10.0.0.0/8', blockSize: 30 });
    await admin.createPool({ name: 'ceiling', cidr: '11.0.0.0/8', blockSize: 30 });

    // ---------------------------------------------------------------- leases/s over HTTP, 64 clients
    const clients = Array.from({ length: CLIENTS }, (_, i) => new BrokerClient({ baseUrl: urls[i % urls.length]!, token: cred }));
    let leases = 0;
    const lat: number[] = [];
    const cpu0 = replicas.map((r) => cpuSeconds(r.pid));
    const redisCpu0 = cpuSeconds(redisD.pid);
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
    // CPU per lease does not depend on how loaded the machine is, so it tells what an idle core would do.
    const brokerCpuMsPerLease = (replicas.reduce((a, r, i) => a + cpuSeconds(r.pid) - cpu0[i]!, 0) * 1000) / leases;
    const redisCpuMsPerLease = ((cpuSeconds(redisD.pid) - redisCpu0) * 1000) / leases;

    const bare = await bareHttpBaseline();

    // ---------------------------------------------------------------- the ceiling: redis-benchmark, same Redis
    const sha = (await store.redis.script('LOAD', S.LEASE_BLOCK)) as string;
    const rb = async (args: string[]): Promise<number> => {
      const r = await run(['redis-benchmark', '-s', socket, '-c', String(CLIENTS), '-n', '200000', '-q', ...args], { timeoutMs: 300_000 });
      const m = /([\d.]+) requests per second/.exec(r.stdout.replace(/\r/g, '\n'));
      return m ? Number(m[1]) : NaN;
    };
    const ceilingScript = await rb(['EVALSHA', sha, '0', store.prefix, 'ceiling', 'bench', 'n1', new Date().toISOString()]);
    const ceilingIncr = await rb(['INCR', '{bench}:counter']);

    // ---------------------------------------------------------------- pool write → event at 100 watchers
    const sent = new Map<string, number>();
    let current = 0;
    const delays: number[] = [];
    const ac = new AbortController();
    setMaxListeners(WATCHERS + 10, ac.signal);
    const watchers = Array.from({ length: WATCHERS }, (_, i) => new BrokerClient({ baseUrl: urls[i % urls.length]!, token: cred }));
    const since = (await admin.listPools()).resourceVersion;
    const onEvent = (e: WatchEvent): void => {
      if (e.kind !== 'IPPool') return;
      delays.push(performance.now() - (sent.get(e.resourceVersion) ?? current));
    };
    const pending = watchers.map((w) => w.watch(since, onEvent, ac.signal));
    await new Promise((r) => setTimeout(r, 1000));
    // Writes are serial, so an event whose revision the writer has not been answered with yet belongs to the
    // write in flight: its start time is `current`.
    // Writes go to the last replica, so with REPLICAS > 1 most watchers see changes made through another replica.
    const writer = new BrokerClient({ baseUrl: urls[urls.length - 1]!, token });
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
      replicas: REPLICAS,
      machine: `${cpus().length} CPU(s), load ${(await run(['cat', '/proc/loadavg'])).stdout.trim().split(' ').slice(0, 3).join(' ')}`,
      httpLeasesPerSecond: Math.round(httpRate),
      httpLeaseLatencyMs: { p50: +pct(lat, 50).toFixed(2), p99: +pct(lat, 99).toFixed(2) },
      brokerCpuMsPerLease: +brokerCpuMsPerLease.toFixed(3),
      redisCpuMsPerLease: +redisCpuMsPerLease.toFixed(3),
      leasesPerSecondPerIdleBrokerCore: Math.round(1000 / brokerCpuMsPerLease),
      leasesPerSecondRedisBound: Math.round(1000 / redisCpuMsPerLease),
      bareNodeHttpPerSecond: bare.perSecond,
      bareNodeHttpCpuMsPerRequest: bare.cpuMsPerRequest,
      ratioBrokerCpuToBareHttp: +(brokerCpuMsPerLease / bare.cpuMsPerRequest).toFixed(2),
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
    store.redis.disconnect();
    for (const r of replicas) await stopPid(r.pid);
  } finally {
    await stopPid(redisD.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
