// `npm run bench:scale`: CLUSTERS simulated member clusters (light agents: a BrokerClient each, spread over a few
// child processes) against one broker process on one real redis-server, over real HTTP and watches. They join, lease
// a block for each of 20 nodes and then addresses up to LEASES leases in all, report their complete node and owner
// sets by heartbeat and open a watch each; then pool changes are timed to every watcher, and the owner GC is run at
// that size: the listing the GC did on every run before the holder index, side by side with the incremental run
// (idle, one owner gone, one node and two owners gone in every cluster). Prints JSON and writes `## Scale` of
// docs/benchmarks.md (unless --no-doc).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { BrokerClient, MAX_BATCH_LEASES, type WatchEvent } from '../api/index.js';
import { run, startDaemon, stopPid } from '../host/index.js';
import { BrokerStore } from './broker-store.js';

const NODES = 20;
const SELF = new URL(import.meta.url).pathname;
const MAIN = new URL('../cli/main.js', import.meta.url).pathname;
const OWNER_GRACE_MS = 300_000;

const nodeNames = (): string[] => Array.from({ length: NODES }, (_, j) => `node-${j}`);
const ownerNames = (c: number, n: number): string[] => Array.from({ length: n }, (_, i) => `ns-${c % 97}/pod-${c}-${i}`);
const clusterId = (c: number): string => `m${c}`;
/** Wall-clock ms with sub-ms precision, comparable between processes of one host. */
const wallMs = (): number => performance.timeOrigin + performance.now();

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const r1 = (x: number): number => Math.round(x * 10) / 10;

async function pool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

// ---------------------------------------------------------------------------------------------- child: agents
type ToChild =
  | { op: 'join'; url: string; joinToken: string; clusters: number[] }
  | { op: 'lease'; perCluster: number }
  | { op: 'heartbeat' }
  | { op: 'watch'; since: string }
  | { op: 'stop' };
type FromChild =
  | { op: 'joined'; lat: number[] }
  | { op: 'leased'; leases: number; lat: number[] }
  | { op: 'heartbeated'; lat: number[] }
  | { op: 'watching' }
  | { op: 'seen'; rev: string; at: number[] }
  | { op: 'stopped'; watchErrors: number };

async function child(): Promise<void> {
  const send = (m: FromChild): void => void process.send!(m);
  const agents = new Map<number, BrokerClient>();
  let url = '';
  let perCluster = 0;
  const ac = new AbortController();
  setMaxListeners(10_000, ac.signal);
  const watches: Promise<void>[] = [];
  let watchErrors = 0;
  // rev of an IPPool event → receive time per cluster of this child
  const seen = new Map<string, number[]>();
  process.on('message', (m: ToChild) => {
    void (async () => {
      switch (m.op) {
        case 'join': {
          url = m.url;
          const lat: number[] = [];
          const joiner = new BrokerClient({ baseUrl: url, token: m.joinToken });
          await pool(m.clusters, 4, async (c) => {
            const s = performance.now();
            const j = await joiner.joinCluster({ id: clusterId(c), podCIDRs: [`172.${16 + (c >> 8)}.${c & 255}.0/24`] });
            lat.push(performance.now() - s);
            agents.set(c, new BrokerClient({ baseUrl: url, token: j.credentials.token }));
          });
          joiner.close();
          send({ op: 'joined', lat });
          break;
        }
        case 'lease': {
          perCluster = m.perCluster;
          const lat: number[] = [];
          let leases = 0;
          await pool([...agents.keys()], 16, async (c) => {
            const a = agents.get(c)!;
            let s = performance.now();
            leases += (await a.leaseBlocks('nodes', { cluster: clusterId(c), nodes: nodeNames() })).items.length;
            lat.push(performance.now() - s);
            const owners = ownerNames(c, perCluster);
            for (let i = 0; i < owners.length; i += MAX_BATCH_LEASES) {
              s = performance.now();
              leases += (await a.leaseAddresses('addrs', { owners: owners.slice(i, i + MAX_BATCH_LEASES) })).items.length;
              lat.push(performance.now() - s);
            }
          });
          send({ op: 'leased', leases, lat });
          break;
        }
        case 'heartbeat': {
          const lat: number[] = [];
          await pool([...agents.keys()], 8, async (c) => {
            const s = performance.now();
            await agents.get(c)!.heartbeat(clusterId(c), { nodes: nodeNames(), addressOwners: ownerNames(c, perCluster) });
            lat.push(performance.now() - s);
          });
          send({ op: 'heartbeated', lat });
          break;
        }
        case 'watch': {
          const n = agents.size;
          for (const a of agents.values()) {
            const times = (e: WatchEvent): void => {
              if (e.kind !== 'IPPool') return;
              const at = wallMs();
              const list = seen.get(e.resourceVersion) ?? [];
              list.push(at);
              seen.set(e.resourceVersion, list);
              if (list.length === n) {
                seen.delete(e.resourceVersion);
                send({ op: 'seen', rev: e.resourceVersion, at: list });
              }
            };
            watches.push(a.watch(m.since, times, ac.signal).catch(() => void watchErrors++));
          }
          send({ op: 'watching' });
          break;
        }
        case 'stop': {
          ac.abort();
          await Promise.all(watches);
          for (const a of agents.values()) a.close();
          process.send!({ op: 'stopped', watchErrors } satisfies FromChild, () => process.exit(0));
          break;
        }
      }
    })().catch((err: Error) => {
      process.stderr.write(`bench-scale child: ${err.stack ?? err.message}\n`);
      process.exit(1);
    });
  });
}

// ---------------------------------------------------------------------------------------------- parent
class Agents {
  private readonly waiters: ((m: FromChild, from: number) => boolean)[] = [];
  constructor(readonly procs: ChildProcess[]) {
    procs.forEach((p, i) => p.on('message', (m: FromChild) => {
      for (let k = 0; k < this.waiters.length; k++) if (this.waiters[k]!(m, i)) this.waiters.splice(k--, 1);
    }));
  }
  /** Sends each child its message and collects one answer of `op` from each. */
  async all<O extends FromChild['op']>(msg: (i: number) => ToChild, op: O, timeoutMs = 3_600_000): Promise<Extract<FromChild, { op: O }>[]> {
    const got = new Map<number, Extract<FromChild, { op: O }>>();
    const done = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`children did not answer ${op} in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m, from) => {
        if (m.op !== op) return false;
        got.set(from, m as Extract<FromChild, { op: O }>);
        if (got.size === this.procs.length) {
          clearTimeout(t);
          resolve();
        }
        return got.size === this.procs.length;
      });
    });
    this.procs.forEach((p, i) => p.send(msg(i)));
    await done;
    return this.procs.map((_, i) => got.get(i)!);
  }
  /** Receive times of event `rev` at every watcher (all children), or what arrived by the timeout. */
  seen(rev: string, timeoutMs: number): Promise<number[]> {
    const at: number[] = [];
    let answered = 0;
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(at), timeoutMs);
      this.waiters.push((m) => {
        if (m.op !== 'seen' || m.rev !== rev) return false;
        at.push(...m.at);
        if (++answered === this.procs.length) {
          clearTimeout(t);
          resolve(at);
          return true;
        }
        return false;
      });
    });
  }
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function spawnBroker(dir: string, socket: string, token: string): Promise<{ url: string; pid: number }> {
  return new Promise((resolve, reject) => {
    // One API process, no job worker: the bench runs the owner GC itself, to time it alone. Defaults stay; the
    // watch limit is per credential (each cluster has its own), so 512 watchers need no flag.
    const p = spawn(process.execPath, [MAIN, 'broker', '--listen', '127.0.0.1:0', '--state-dir', dir, '--redis', `unix://${socket}`, '--role', 'api'], {
      env: { ...process.env, STRAIT_ADMIN_TOKEN: token, STRAIT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve({ url: (JSON.parse(out.split('\n')[0]!) as { url: string }).url, pid: p.pid! });
    });
    p.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
}

/** What the owner GC read on every run before the holder index: every lease of every reporting cluster, and their live sets. */
async function fullListing(store: BrokerStore): Promise<number> {
  const reported = Object.keys(await store.redis.hgetall(store.keys.lastReported));
  const nodeClusters = new Set(reported.filter((f) => f.startsWith('node:')).map((f) => f.slice(5)));
  const ownerClusters = new Set(reported.filter((f) => f.startsWith('owner:')).map((f) => f.slice(6)));
  const live = new Map<string, Set<string>>();
  const liveOf = async (kind: 'node' | 'owner', c: string): Promise<Set<string>> => {
    const key = store.keys.live(kind, c);
    let s = live.get(key);
    if (!s) live.set(key, (s = new Set(await store.redis.smembers(key))));
    return s;
  };
  let missing = 0;
  for (const b of (await store.list('Block', (x) => nodeClusters.has(x.cluster))).items) if (!(await liveOf('node', b.cluster)).has(b.node)) missing++;
  for (const a of (await store.list('AddressLease', (x) => ownerClusters.has(x.cluster))).items) if (!(await liveOf('owner', a.cluster)).has(a.owner)) missing++;
  return missing;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const s = performance.now();
  const result = await fn();
  return { ms: r1(performance.now() - s), result };
}

async function parent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clusters: { type: 'string', default: '512' },
      leases: { type: 'string', default: '1000000' },
      procs: { type: 'string', default: '4' },
      changes: { type: 'string', default: '50' },
      'no-doc': { type: 'boolean', default: false },
    },
  });
  const CLUSTERS = Number(values.clusters);
  const LEASES = Number(values.leases);
  const PROCS = Math.min(Number(values.procs), CLUSTERS);
  const CHANGES = Number(values.changes);
  // The pools hold 32,768 node blocks and 8M addresses; one heartbeat carries at most 10,000 owners.
  if (![CLUSTERS, LEASES, PROCS, CHANGES].every((n) => Number.isInteger(n) && n > 0) || CLUSTERS > 1600 || LEASES < CLUSTERS * NODES || LEASES > CLUSTERS * (NODES + 10_000)) {
    throw new Error('usage: bench-scale [--clusters N ≤ 1600] [--leases N, 20·clusters ≤ N ≤ 10,020·clusters] [--procs N] [--changes N] [--no-doc]');
  }
  const perCluster = Math.floor((LEASES - CLUSTERS * NODES) / CLUSTERS);
  const load = async (): Promise<string> => (await run(['cat', '/proc/loadavg'])).stdout.trim().split(' ').slice(0, 3).join(' ');
  const loadStart = await load();
  const commit = (await run(['git', '-C', new URL('../..', import.meta.url).pathname, 'rev-parse', '--short', 'HEAD'])).stdout.trim();

  const dir = mkdtempSync(join(tmpdir(), 'strait-bench-scale-'));
  const socket = join(dir, 'redis.sock');
  const redisD = startDaemon(['redis-server', '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'no'], { logFile: join(dir, 'redis.log') });
  const token = 'bench-scale-admin-token';
  const procs: ChildProcess[] = [];
  let brokerPid = 0;
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
    const broker = await spawnBroker(dir, socket, token);
    brokerPid = broker.pid;
    let rssPeak = rssMiB(brokerPid);
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(brokerPid))), 250);
    const admin = new BrokerClient({ baseUrl: broker.url, token });
    const store = new BrokerStore(new Redis({ path: socket }));
    await admin.createPool({ name: 'nodes', cidr: '10.0.0.0/9', blockSize: 24 });
    await admin.createPool({ name: 'addrs', cidr: '10.128.0.0/9', blockSize: 24 });
    const jt = await admin.createToken({ uses: CLUSTERS });

    for (let i = 0; i < PROCS; i++) procs.push(fork(SELF, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const agents = new Agents(procs);
    const slice = (i: number): number[] => Array.from({ length: CLUSTERS }, (_, c) => c).filter((c) => c % PROCS === i);

    // ------------------------------------------------------------------ join
    let t0 = performance.now();
    const joined = await agents.all((i) => ({ op: 'join', url: broker.url, joinToken: jt.token, clusters: slice(i) }), 'joined');
    const joinMs = performance.now() - t0;
    const joinLat = joined.flatMap((j) => j.lat);

    // ------------------------------------------------------------------ leases
    t0 = performance.now();
    const leased = await agents.all(() => ({ op: 'lease', perCluster }), 'leased');
    const leaseMs = performance.now() - t0;
    const leases = leased.reduce((a, l) => a + l.leases, 0);
    const leaseLat = leased.flatMap((l) => l.lat);
    const rssAfterLeases = rssMiB(brokerPid);

    // ------------------------------------------------------------------ heartbeats with complete sets
    t0 = performance.now();
    const hbs = await agents.all(() => ({ op: 'heartbeat' }), 'heartbeated');
    const heartbeatMs = performance.now() - t0;
    const hbLat = hbs.flatMap((h) => h.lat);

    // ------------------------------------------------------------------ pool change → every watcher
    const since = (await admin.listPools()).resourceVersion;
    await agents.all(() => ({ op: 'watch', since }), 'watching');
    /** One pool change and the receive time at each watcher; the event can arrive before the PUT answers, so the
     * bench listens for the next revision first (nothing else writes meanwhile). */
    const change = async (description: string): Promise<{ s: number; at: number[] }> => {
      const s = wallMs();
      const rev = String(Number(await store.currentRev()) + 1);
      const seen = agents.seen(rev, 10_000);
      const p = await admin.putPool('nodes', { description });
      if (p.resourceVersion !== rev) throw new Error(`another write came between (rev ${p.resourceVersion}, expected ${rev})`);
      return { s, at: await seen };
    };
    // Warm-up: also proves every watch is open (each child answers once all its watchers saw the change).
    for (let w = 0; ; w++) {
      if ((await change(`warm-up ${w}`)).at.length === CLUSTERS) break;
      if (w >= 5) throw new Error(`not all ${CLUSTERS} watchers saw the warm-up change`);
    }
    const deliveries: number[] = [];
    const toAll: number[] = [];
    let incomplete = 0;
    for (let k = 0; k < CHANGES; k++) {
      const { s, at } = await change(`change ${k}`);
      if (at.length < CLUSTERS) incomplete++;
      for (const a of at) deliveries.push(a - s);
      toAll.push(Math.max(...at) - s);
      await new Promise((r) => setTimeout(r, 20));
    }
    const rssWatching = rssMiB(brokerPid);

    // ------------------------------------------------------------------ owner GC at this size
    const now = Date.now();
    const full = await timed(() => fullListing(store));
    const idle = await timed(() => store.collectOwnerless(now, OWNER_GRACE_MS));
    // one owner of one cluster gone
    await admin.heartbeat(clusterId(0), { nodes: nodeNames(), addressOwners: ownerNames(0, perCluster).slice(1) });
    const oneMark = await timed(() => store.collectOwnerless(now, OWNER_GRACE_MS));
    const oneDue = await timed(() => store.collectOwnerless(now + OWNER_GRACE_MS, OWNER_GRACE_MS));
    // one node and two owners gone in every cluster
    await pool(Array.from({ length: CLUSTERS }, (_, c) => c), 8, async (c) => {
      await admin.heartbeat(clusterId(c), { nodes: nodeNames().slice(1), addressOwners: ownerNames(c, perCluster).slice(c === 0 ? 1 : 0).slice(2) });
    });
    const manyMark = await timed(() => store.collectOwnerless(now + OWNER_GRACE_MS, OWNER_GRACE_MS));
    const manyDue = await timed(() => store.collectOwnerless(now + 2 * OWNER_GRACE_MS, OWNER_GRACE_MS));
    const fullAfter = await timed(() => fullListing(store));

    // ------------------------------------------------------------------ memory
    const info = await store.redis.info('memory');
    const mem = (k: string): number => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1]);
    let indexBytes = 0;
    for (let c = 0; c < CLUSTERS; c++) {
      for (const kind of ['node', 'owner'] as const) indexBytes += Number((await store.redis.call('MEMORY', 'USAGE', store.keys.holders(kind, clusterId(c)), 'SAMPLES', '0')) ?? 0);
    }
    clearInterval(sampler);
    const stopped = await agents.all(() => ({ op: 'stop' }), 'stopped');
    const loadEnd = await load();

    const mib = (b: number): number => r1(b / 1048576);
    const out = {
      commit,
      machine: `${cpus().length} CPU(s); load ${loadStart} at start, ${loadEnd} at end (shared with other jobs)`,
      clusters: CLUSTERS,
      agentProcesses: PROCS,
      leases,
      join: { totalMs: Math.round(joinMs), perSecond: r1(CLUSTERS / (joinMs / 1000)), p50Ms: r1(pct(joinLat, 50)), p99Ms: r1(pct(joinLat, 99)) },
      leasing: { totalMs: Math.round(leaseMs), leasesPerSecond: Math.round(leases / (leaseMs / 1000)), requests: leaseLat.length, requestP50Ms: r1(pct(leaseLat, 50)), requestP99Ms: r1(pct(leaseLat, 99)) },
      heartbeats: { totalMs: Math.round(heartbeatMs), ownersPerHeartbeat: perCluster, p50Ms: r1(pct(hbLat, 50)), p99Ms: r1(pct(hbLat, 99)) },
      propagation: {
        changes: CHANGES,
        watchers: CLUSTERS,
        incompleteChanges: incomplete,
        deliveries: deliveries.length,
        perDeliveryMs: { p50: r1(pct(deliveries, 50)), p99: r1(pct(deliveries, 99)), max: r1(Math.max(...deliveries)) },
        toAllWatchersMs: { p50: r1(pct(toAll, 50)), p99: r1(pct(toAll, 99)), max: r1(Math.max(...toAll)) },
        watchErrors: stopped.reduce((a, s) => a + s.watchErrors, 0),
      },
      brokerRssMiB: { afterLeases: r1(rssAfterLeases), watching: r1(rssWatching), peak: r1(rssPeak) },
      redisMemoryMiB: { used: mib(mem('used_memory')), rss: mib(mem('used_memory_rss')), holderIndex: mib(indexBytes) },
      ownerGc: {
        fullListingBeforeMs: full.ms,
        fullListingMissingFound: full.result,
        incrementalIdleMs: idle.ms,
        oneOwnerGone: { markMs: oneMark.ms, returnMs: oneDue.ms, returned: oneDue.result },
        everyClusterOneNodeTwoOwnersGone: { markMs: manyMark.ms, returnMs: manyDue.ms, returned: manyDue.result },
        fullListingAfterMs: fullAfter.ms,
        ratioFullListingToIncrementalReturn: r1(full.ms / Math.max(0.1, oneDue.ms)),
      },
      goals: {
        brokerRssAtMost512MiB: rssPeak <= 512,
        propagationP99ToAllAtMost200ms: pct(toAll, 99) <= 200 && incomplete === 0,
        ownerGcUnder1sPerRun: Math.max(idle.ms, oneMark.ms, oneDue.ms, manyMark.ms, manyDue.ms) < 1000,
      },
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (!values['no-doc']) writeDoc(out, process.argv.slice(2));
    admin.close();
    store.redis.disconnect();
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill();
    if (brokerPid) await stopPid(brokerPid);
    await stopPid(redisD.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Replaces `## Scale` of docs/benchmarks.md (up to the next `## `) with this run. */
function writeDoc(out: Record<string, unknown>, argv: string[]): void {
  const path = new URL('../../docs/benchmarks.md', import.meta.url).pathname;
  const doc = readFileSync(path, 'utf8');
  const o = out as { commit: string; machine: string; goals: Record<string, boolean> };
  const section = [
    '## Scale',
    '',
    `Command: \`flock /tmp/strait-lab.lock nice -n 5 npm run bench:scale${argv.length ? ` -- ${argv.join(' ')}` : ''}\` (build, then`,
    '`node dist/broker/bench-scale.js`). One broker process (`strait broker --role api`, default limits) on one',
    'redis-server without persistence; the simulated member clusters are BrokerClients spread over child processes,',
    'each joining with one shared join token, leasing a block per node for 20 nodes (one batch request) and then',
    'addresses in batches of 256 up to the lease total, sending one heartbeat with its complete node and owner sets, and',
    'holding one watch. Watches open after the leases (every watcher gets every event; a watcher open during 1M lease',
    'events would be sent all of them). Propagation: a pool PUT by the admin, from before the request to the arrival',
    'of its event at each watcher (clocks of one host); "to all" is the last of the watchers per change. Owner GC: the',
    'bench calls the GC itself (the broker runs no jobs, so nothing else runs it meanwhile); "full listing" is what',
    'every GC run read before the holder index (every lease of the reporting clusters and their live sets), timed',
    'in the same run on the same data. Redis `used_memory`; the holder index by `MEMORY USAGE … SAMPLES 0`.',
    '',
    `Run at commit ${o.commit}; ${o.machine}. Timings on this shared machine move with its load.`,
    '',
    '```json',
    JSON.stringify(out, null, 2),
    '```',
    '',
  ].join('\n');
  const start = doc.indexOf('\n## Scale');
  const next = start < 0 ? -1 : doc.indexOf('\n## ', start + 1);
  const updated = start < 0 ? `${doc.trimEnd()}\n\n${section}` : `${doc.slice(0, start + 1)}${section}${next < 0 ? '' : doc.slice(next + 1)}`;
  writeFileSync(path, updated);
}

if (process.argv.includes('--child')) await child();
else await parent();
