// `npm run bench:broker`: leases/s through the HTTP API with 64 concurrent clients, one lease per request and in
// batches, next to redis-benchmark running the same lease scripts on the same Redis in the same run (the ceilings),
// and pool-write → watch-event latency at 100 concurrent watchers; then the broker's RSS and /metrics latency with 100
// live watchers and with 20 paused ones (live, and catching up from far back) under the same write load.
// The baseline (`--baseline REF`, default b71c85f: main before the #10/#11 broker changes; `--baseline none` skips it)
// is built in a temporary git worktree and measured side by side: single leases/s of both builds in ABBA order on the
// same Redis in the same run. The run writes itself into docs/benchmarks.md (`## Broker`, between its markers;
// `--no-doc` leaves the doc alone): commit, host load, figures and ratios against the baseline.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { setMaxListeners } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BrokerClient, type WatchEvent } from '../api/index.js';
import { procStatFields, run, startDaemon, stopPid } from '../host/index.js';
import { BrokerStore, brokerScripts, IDEMPOTENCY_TTL_MS } from './broker-store.js';
import { orderKeys } from './store/script-loader.js';
import { BenchCleanup } from './bench-cleanup.js';
import { compareRounds, renderBrokerRun, replaceBrokerRun, type BrokerRunFigures, type Round, type Versus } from './bench-broker-doc.js';

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const CLIENTS = 64;
const WATCHERS = 100;
const WRITES = Number(process.env.BENCH_WRITES ?? 200);
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1);
/** Leases per batch request (≤ 256). */
const BATCH = Number(process.env.BENCH_BATCH ?? 64);
/** Leases redis-benchmark takes per ceiling run (each kept in Redis: ~0.5 KB apiece with its event). */
const CEILING_LEASES = Number(process.env.BENCH_CEILING_LEASES ?? 100_000);
const MAIN = new URL('../cli/main.js', import.meta.url).pathname;
const argOf = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const BASELINE = ((b) => (b === 'none' ? undefined : b))(argOf('--baseline') ?? 'b71c85f');
/** Single-lease phases of the side-by-side comparison (ABBA order), BENCH_SECONDS each. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const WRITE_DOC = !process.argv.includes('--no-doc');
/** Unmeasured single leases through each build before the side-by-side phases. */
const WARM_UP_MS = 3000;
const REPO = new URL('../..', import.meta.url).pathname;
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' / ');

/** Everything the run starts, stopped on every way out (main's finally, SIGINT/SIGTERM/SIGHUP). */
const cleanup = new BenchCleanup();

function spawnReplica(dir: string, socket: string, token: string, main = MAIN): Promise<{ url: string; pid: number }> {
  return new Promise((resolve, reject) => {
    // BENCH_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`) goes to the broker processes, for profiling them under load.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, main, 'broker', '--listen', '127.0.0.1:0', '--state-dir', dir, '--redis', `unix://${socket}`, '--role', 'api'], {
      env: { ...process.env, STRAIT_ADMIN_TOKEN: token, STRAIT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.pid !== undefined) cleanup.addPid(`broker replica ${child.pid}`, child.pid);
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
  const fields = procStatFields(`/proc/${pid}/stat`); // utime, stime: fields 14 and 15
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const BARE_SERVER = `require('node:http').createServer((q, s) => { let b = ''; q.on('data', (c) => (b += c)); q.on('end', () => {
  const o = JSON.parse(b || '{}'); s.writeHead(201, { 'content-type': 'application/json' }); s.end(JSON.stringify({ ok: true, o })); }); })
  .listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;

/** The floor of any Node HTTP API on this machine: a bare node:http server echoing JSON, same clients, same load. */
async function bareHttpBaseline(): Promise<{ perSecond: number; cpuMsPerRequest: number }> {
  const child = spawn(process.execPath, ['-e', BARE_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const step = child.pid !== undefined ? cleanup.addPid('bare HTTP server', child.pid) : undefined;
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
    if (step) await cleanup.done(step);
  }
}

/** Resident set size of a process in bytes, from /proc. */
function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** `--baseline REF`: REF built in a temporary worktree (node_modules shared); returns its CLI entry and a clean-up. */
async function buildBaseline(ref: string): Promise<{ main: string; sha: string; cleanup: () => Promise<void> }> {
  const repo = REPO;
  const wt = mkdtempSync(join(tmpdir(), 'strait-bench-baseline-'));
  rmSync(wt, { recursive: true, force: true });
  await run(['git', '-C', repo, 'worktree', 'add', '--detach', wt, ref], { timeoutMs: 120_000 });
  const step = cleanup.add(`baseline worktree ${wt}`, () => run(['git', '-C', repo, 'worktree', 'remove', '--force', wt], { timeoutMs: 60_000 }).catch(() => undefined));
  const remove = (): Promise<void> => cleanup.done(step);
  try {
    symlinkSync(join(repo, 'node_modules'), join(wt, 'node_modules'));
    await run([process.execPath, join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(wt, 'tsconfig.build.json')], { timeoutMs: 600_000 });
    // Builds since the Lua moved to .lua files read them beside the compiled store, as `npm run build` copies them;
    // tsc alone does not, and a baseline such as 3aa8aff then failed on a missing put.lua.
    const lua = join(wt, 'broker', 'store', 'lua');
    if (existsSync(lua)) cpSync(lua, join(wt, 'dist', 'broker', 'store', 'lua'), { recursive: true });
    const main = join(wt, 'dist', 'cli', 'main.js');
    if (!existsSync(main)) throw new Error(`building ${ref} did not produce ${main}`);
    const sha = (await run(['git', '-C', wt, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
    return { main, sha, cleanup: remove };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** A watch over a raw socket that reads nothing after its request: a client that stopped reading. */
function pausedWatch(url: string, token: string, since: string): Promise<net.Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write(`GET /v1/watch?since=${since} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.on('error', () => undefined);
    s.once('error', reject);
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  const uninstall = cleanup.onSignals();
  const dir = mkdtempSync(join(tmpdir(), 'strait-bench-'));
  cleanup.add(`state dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'redis.sock');
  const redisD = startDaemon(['redis-server', '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'no'], { logFile: join(dir, 'redis.log') });
  cleanup.addPid('redis-server', redisD.pid);
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
    cleanup.add('Redis connection', () => store.redis.disconnect());
    const admin = new BrokerClient({ baseUrl: urls[0]!, token });
    cleanup.add('admin client', () => admin.close());
    const t = await admin.createToken({ uses: 2 });
    const cred = (await admin.joinCluster({ id: 'bench', podCIDRs: ['100.64.0.0/16'] }, t.token)).credentials.token;
    await admin.createPool({ name: 'big', cidr: '10.0.0.0/8', blockSize: 30 });
    await admin.createPool({ name: 'ceiling', cidr: '11.0.0.0/8', blockSize: 30 });
    await admin.createPool({ name: 'ceiling2', cidr: '12.0.0.0/8', blockSize: 30 });

    // ---------------------------------------------------------------- leases/s over HTTP, 64 clients
    // Each client leases blocks (3 of 4 requests) and addresses (1 of 4) from one pool: first one lease per request,
    // then BATCH leases per request (POST …/blocks {nodes}, POST …/addresses {owners}: one Lua call each).
    const clients = Array.from({ length: CLIENTS }, (_, i) => new BrokerClient({ baseUrl: urls[i % urls.length]!, token: cred }));
    cleanup.add('clients', () => clients.forEach((c) => c.close()));
    const phase = async (perRequest: number, lease: (c: BrokerClient, i: number, k: number) => Promise<unknown>, pids = replicas.map((r) => r.pid), durationMs = DURATION_MS) => {
      let leases = 0;
      const lat: number[] = [];
      const cpu0 = pids.map((pid) => cpuSeconds(pid));
      const redisCpu0 = cpuSeconds(redisD.pid);
      const deadline = Date.now() + durationMs;
      const t0 = Date.now();
      await Promise.all(
        clients.map(async (c, i) => {
          let k = 0;
          while (Date.now() < deadline) {
            const s = performance.now();
            await lease(c, i, k++);
            lat.push(performance.now() - s);
            leases += perRequest;
          }
        }),
      );
      const rate = leases / ((Date.now() - t0) / 1000);
      // CPU per lease depends less on how loaded the machine is than leases/s do.
      const brokerCpuMs = (pids.reduce((a, pid, i) => a + cpuSeconds(pid) - cpu0[i]!, 0) * 1000) / leases;
      const redisCpuMs = ((cpuSeconds(redisD.pid) - redisCpu0) * 1000) / leases;
      return { rate, lat, brokerCpuMs, redisCpuMs };
    };
    const single = await phase(1, (c, i, k) => (k % 4 === 3 ? c.leaseAddress('big', { owner: `o-${i}-${k}` }) : c.leaseBlock('big', { cluster: 'bench', node: `n${i}` })));
    const nodes = Array.from({ length: BATCH }, (_, j) => `n${j}`);
    const batch = await phase(BATCH, (c, i, k) => (k % 4 === 3
      ? c.leaseAddresses('big', { owners: Array.from({ length: BATCH }, (_, j) => `b-${i}-${k}-${j}`) })
      : c.leaseBlocks('big', { cluster: 'bench', nodes })));

    const bare = await bareHttpBaseline();

    // ---------------------------------------------------------------- this build against --baseline REF
    let versus: Versus | undefined;
    if (BASELINE) {
      const base = await buildBaseline(BASELINE);
      try {
        const old = await spawnReplica(dir, socket, token, base.main);
        const oldClients = Array.from({ length: CLIENTS }, () => new BrokerClient({ baseUrl: old.url, token: cred }));
        cleanup.add('baseline clients', () => oldClients.forEach((c) => c.close()));
        const rounds: Round[] = [];
        // Alternate in ABBA order (this, baseline, baseline, this, …) so that a machine whose load rises or falls
        // during the run weighs on both builds alike, not always on the one measured second.
        const order = Array.from({ length: ROUNDS }, (_, i) => (i % 4 === 0 || i % 4 === 3 ? 'this' : 'baseline') as Round['build']);
        const leaseVia = (build: Round['build'], round: number) => {
          const cs = build === 'this' ? clients : oldClients;
          return (_c: BrokerClient, i: number, k: number) => (k % 4 === 3 ? cs[i]!.leaseAddress('big', { owner: `v-${build}-${round}-${i}-${k}` }) : cs[i]!.leaseBlock('big', { cluster: 'bench', node: `n${i}` }));
        };
        // Both builds warm up first, unmeasured: the baseline broker has just started (its start-up work and JIT
        // ran into the first phase, and the first ABBA pair came out 0.70-0.78 in runs whose later pairs agreed).
        for (const build of ['baseline', 'this'] as const) await phase(1, leaseVia(build, -1), build === 'this' ? [replicas[0]!.pid] : [old.pid], WARM_UP_MS);
        for (const [round, build] of order.entries()) {
          const pids = build === 'this' ? [replicas[0]!.pid] : [old.pid];
          const r = await phase(1, leaseVia(build, round), pids);
          rounds.push({ build, rate: Math.round(r.rate), p99: +pct(r.lat, 99).toFixed(2), brokerCpuMs: +r.brokerCpuMs.toFixed(4), redisCpuMs: +r.redisCpuMs.toFixed(4) });
        }
        for (const c of oldClients) c.close();
        await stopPid(old.pid);
        versus = compareRounds(`${BASELINE} (${base.sha})`, rounds);
      } finally {
        await base.cleanup();
      }
    }

    // ---------------------------------------------------------------- the ceiling: redis-benchmark, same Redis
    // The broker's own lease script, run by redis-benchmark with 64 connections: one block per call (what a single
    // lease runs: a batch of one), and BATCH blocks per call (the batch request); the same number of leases each.
    const shaBatch = (await store.redis.script('LOAD', brokerScripts().leaseBlocks.lua)) as string;
    const rb = async (requests: number, args: string[]): Promise<number> => {
      const r = await run(['redis-benchmark', '-s', socket, '-c', String(CLIENTS), '-n', String(requests), '-q', ...args], { timeoutMs: 300_000 });
      const m = /([\d.]+) requests per second/.exec(r.stdout.replace(/\r/g, '\n'));
      return m ? Number(m[1]) : NaN;
    };
    const iso = new Date().toISOString();
    // Its KEYS as the store passes them (no Idempotency-Key: fingerprint '').
    const leaseKeys = (pool: string): string[] => {
      const k = store.keys;
      const p = k.pool(pool);
      const keys = { clusters: k.objects('Cluster'), blocks: k.objects('Block'), addressLeases: k.objects('AddressLease'), poolMeta: k.poolMeta, poolBlocks: p.poolBlocks, poolAddressBlocks: p.poolAddressBlocks, poolCursor: p.poolCursor, rev: k.rev, events: k.events, idem: k.idempotency(''), ...k.holderIndex() };
      const ks = orderKeys(brokerScripts().leaseBlocks, keys);
      return [String(ks.length), ...ks, '', String(IDEMPOTENCY_TTL_MS)];
    };
    const ceilingScript = await rb(CEILING_LEASES, ['EVALSHA', shaBatch, ...leaseKeys('ceiling'), 'ceiling', 'bench', iso, '1', 'n1']);
    const ceilingBatch = BATCH * (await rb(Math.ceil(CEILING_LEASES / BATCH), ['EVALSHA', shaBatch, ...leaseKeys('ceiling2'), 'ceiling2', 'bench', iso, String(BATCH), ...nodes]));
    const ceilingIncr = await rb(200_000, ['INCR', '{bench}:counter']);

    // ---------------------------------------------------------------- pool write → event at 100 watchers
    const sent = new Map<string, number>();
    let current = 0;
    const delays: number[] = [];
    const ac = new AbortController();
    setMaxListeners(WATCHERS + 10, ac.signal);
    const watchers = Array.from({ length: WATCHERS }, (_, i) => new BrokerClient({ baseUrl: urls[i % urls.length]!, token: cred }));
    cleanup.add('watchers', () => {
      ac.abort();
      watchers.forEach((w) => w.close());
    });
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
    cleanup.add('writer client', () => writer.close());
    for (let i = 0; i < WRITES; i++) {
      const s = performance.now();
      current = s;
      const p = await writer.putPool('big', { description: `w${i}` });
      sent.set(p.resourceVersion, s);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 500));

    // ---------------------------------------------------------------- memory and responsiveness with slow watchers
    // RSS of the first replica and /metrics latency (sampled every 100 ms) while the 64 clients lease for
    // DURATION: first with the 100 live watchers above, then with 20 paused watchers that read nothing (live from
    // now, then catching up from the start of the log, far back), beside the live ones.
    const pid0 = replicas[0]!.pid;
    const metricsClient = new BrokerClient({ baseUrl: urls[0]!, token });
    cleanup.add('metrics client', () => metricsClient.close());
    const underLoad = async (): Promise<{ rssMB: { start: number; peak: number; end: number }; metricsMs: { p50: number; p99: number; max: number; samples: number }; leasesPerSecond: number }> => {
      const start = rssBytes(pid0);
      let peak = start;
      const times: number[] = [];
      let stop = false;
      const sampler = (async () => {
        while (!stop) {
          const s = performance.now();
          await metricsClient.metrics();
          times.push(performance.now() - s);
          peak = Math.max(peak, rssBytes(pid0));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const r = await phase(1, (c, i, k) => (k % 4 === 3 ? c.leaseAddress('big', { owner: `m-${Date.now()}-${i}-${k}` }) : c.leaseBlock('big', { cluster: 'bench', node: `n${i}` })));
      await new Promise((res) => setTimeout(res, 1000));
      stop = true;
      await sampler;
      const mb = (b: number): number => +(b / 1048576).toFixed(1);
      return {
        rssMB: { start: mb(start), peak: mb(peak), end: mb(rssBytes(pid0)) },
        metricsMs: { p50: +pct(times, 50).toFixed(1), p99: +pct(times, 99).toFixed(1), max: +Math.max(...times).toFixed(1), samples: times.length },
        leasesPerSecond: Math.round(r.rate),
      };
    };
    const logLength = Number(await store.currentRev());
    const live100 = await underLoad();
    const nowRev = String(await store.currentRev());
    const pausedLive = await Promise.all(Array.from({ length: 20 }, () => pausedWatch(urls[0]!, cred, nowRev)));
    cleanup.add('paused watches', () => pausedLive.forEach((s) => s.destroy()));
    const paused20Live = await underLoad();
    for (const s of pausedLive) s.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    const pausedCatchUp = await Promise.all(Array.from({ length: 20 }, () => pausedWatch(urls[0]!, cred, '0')));
    cleanup.add('paused catch-up watches', () => pausedCatchUp.forEach((s) => s.destroy()));
    const paused20CatchUp = await underLoad();
    for (const s of pausedCatchUp) s.destroy();
    metricsClient.close();
    ac.abort();
    await Promise.all(pending);
    const expected = WRITES * WATCHERS;

    const r0 = (x: number, d = 0): number => +x.toFixed(d);
    const out = {
      replicas: REPLICAS,
      machine: `${cpus().length} CPU(s), load ${(await run(['cat', '/proc/loadavg'])).stdout.trim().split(' ').slice(0, 3).join(' ')} (shared: other jobs run here)`,
      clients: CLIENTS,
      batchSize: BATCH,
      leasesPerSecond: {
        httpSingle: r0(single.rate),
        httpBatch: r0(batch.rate),
        redisBenchmarkSingleScript: r0(ceilingScript),
        redisBenchmarkBatchScript: r0(ceilingBatch),
      },
      ratios: {
        httpBatchToHttpSingle: r0(batch.rate / single.rate, 2),
        httpSingleToSingleScriptCeiling: r0(single.rate / ceilingScript, 3),
        httpBatchToBatchScriptCeiling: r0(batch.rate / ceilingBatch, 3),
        batchScriptToSingleScriptCeiling: r0(ceilingBatch / ceilingScript, 2),
      },
      requestLatencyMs: {
        single: { p50: r0(pct(single.lat, 50), 2), p99: r0(pct(single.lat, 99), 2) },
        batch: { p50: r0(pct(batch.lat, 50), 2), p99: r0(pct(batch.lat, 99), 2) },
      },
      cpuMsPerLease: {
        brokerSingle: r0(single.brokerCpuMs, 4),
        brokerBatch: r0(batch.brokerCpuMs, 4),
        redisSingle: r0(single.redisCpuMs, 4),
        redisBatch: r0(batch.redisCpuMs, 4),
      },
      leasesPerSecondPerIdleBrokerCore: { single: r0(1000 / single.brokerCpuMs), batch: r0(1000 / batch.brokerCpuMs) },
      bareNodeHttpPerSecond: bare.perSecond,
      bareNodeHttpCpuMsPerRequest: bare.cpuMsPerRequest,
      ratioBrokerCpuPerSingleLeaseToBareHttp: r0(single.brokerCpuMs / bare.cpuMsPerRequest, 2),
      redisBenchmarkIncrPerSecond: r0(ceilingIncr),
      watchers: WATCHERS,
      poolWrites: WRITES,
      eventsMeasured: delays.length,
      eventsExpected: expected,
      propagationMs: { p50: r0(pct(delays, 50), 2), p99: r0(pct(delays, 99), 2), max: r0(Math.max(...delays), 2) },
      slowWatchers: { eventLogLength: logLength, with100LiveWatchers: live100, plus20PausedLive: paused20Live, plus20PausedCatchingUpFromRev0: paused20CatchUp },
      ...(versus ? { versusBaseline: versus } : {}),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (WRITE_DOC) await writeDoc(out as unknown as BrokerRunFigures, loadStart);
  } finally {
    await cleanup.run();
    uninstall();
  }
}

/** Writes this run into docs/benchmarks.md (see bench-broker-doc.ts). */
async function writeDoc(figures: BrokerRunFigures, loadStart: string): Promise<void> {
  const commit = (await run(['git', '-C', REPO, 'rev-parse', 'HEAD'])).stdout.trim();
  const dirty = (await run(['git', '-C', REPO, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim() !== '';
  const env = ['BENCH_SECONDS', 'BENCH_REPLICAS', 'BENCH_BATCH', 'BENCH_WRITES', 'BENCH_CEILING_LEASES', 'BENCH_ROUNDS'].filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  const args = process.argv.slice(2).filter((a) => a !== '--no-doc');
  const command = [...env, 'npm run bench:broker', ...(args.length ? ['--', ...args] : [])].join(' ');
  const date = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const path = join(REPO, 'docs', 'benchmarks.md');
  const section = renderBrokerRun(figures, { commit, dirty, date, command, cpus: cpus().length, loadStart, loadEnd: loadavg() });
  writeFileSync(path, replaceBrokerRun(readFileSync(path, 'utf8'), section));
  process.stdout.write(`wrote ${path} (## Broker, latest run)\n`);
}

await main();
