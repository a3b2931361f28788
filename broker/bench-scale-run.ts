// One run of bench:scale (see bench-scale.ts): a broker process on a redis-server of its own, CLUSTERS simulated
// member clusters in agent groups (child processes, or this process with procs 0), then the figures. Everything it
// started is stopped on every way out.
import { fork, spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BrokerClient } from '../api/index.js';
import { startDaemon, stopPid } from '../host/index.js';
import { BrokerStore } from './broker-store.js';
import { collectGarbage } from './jobs.js';
import { clusterId, inPool, LocalAgents, NODES, nodeNames, ownerNames, wallMs, type FromAgents, type ToAgents } from './bench-scale-agents.js';
import type { ScaleFigures } from './bench-scale-doc.js';

export interface ScaleOptions {
  clusters: number;
  /** leases in all: a block for each of 20 nodes per cluster, the rest addresses */
  leases: number;
  /** agent processes; 0 runs the agents in this process */
  procs: number;
  /** pool changes timed to every watcher */
  changes: number;
  /** the built CLI the broker runs from (dist/cli/main.js) */
  cliMain: string;
  /** the built bench entry the agent processes run (`--child`); needed when procs > 0 */
  agentMain?: string;
  /** also time what the owner GC and the gc job read on every run before (every lease, into this process) */
  compareListing?: boolean;
  log?: (line: string) => void;
}

const OWNER_GRACE_MS = 300_000;
const GC_GRACE_MS = 120_000;

export function validateScaleOptions(o: Pick<ScaleOptions, 'clusters' | 'leases' | 'procs' | 'changes'>): string | undefined {
  const { clusters, leases, procs, changes } = o;
  // The pools hold 32,768 node blocks and 8M addresses; one heartbeat carries at most 10,000 owners.
  if (![clusters, leases, changes].every((n) => Number.isInteger(n) && n > 0) || !Number.isInteger(procs) || procs < 0) return 'clusters, leases and changes must be whole numbers above 0, procs 0 or more';
  if (clusters > 1600) return 'at most 1,600 clusters (the node pool holds 32,768 blocks)';
  if (leases < clusters * NODES || leases > clusters * (NODES + 10_000)) return `leases must be between ${clusters * NODES} (20 blocks per cluster) and ${clusters * (NODES + 10_000)} (10,000 owners per heartbeat)`;
  return undefined;
}

export function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const r1 = (x: number): number => Math.round(x * 10) / 10;

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const s = performance.now();
  const result = await fn();
  return { ms: r1(performance.now() - s), result };
}

interface AgentProc extends EventEmitter {
  send(m: ToAgents): boolean;
  exitCode: number | null;
}

/** The agent groups, each answering every message once. */
class Agents {
  private readonly waiters: ((m: FromAgents, from: number) => boolean)[] = [];
  constructor(readonly procs: AgentProc[]) {
    procs.forEach((p, i) =>
      p.on('message', (m: FromAgents) => {
        for (let k = 0; k < this.waiters.length; k++) if (this.waiters[k]!(m, i)) this.waiters.splice(k--, 1);
      }),
    );
  }
  /** Sends each group its message and collects one answer of `op` from each. */
  async all<O extends FromAgents['op']>(msg: (i: number) => ToAgents, op: O, timeoutMs = 3_600_000): Promise<Extract<FromAgents, { op: O }>[]> {
    const got = new Map<number, Extract<FromAgents, { op: O }>>();
    let fail!: (e: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      fail = reject;
      const t = setTimeout(() => reject(new Error(`agents did not answer ${op} in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m, from) => {
        if (m.op !== op) return false;
        got.set(from, m as Extract<FromAgents, { op: O }>);
        if (got.size < this.procs.length) return false;
        clearTimeout(t);
        resolve();
        return true;
      });
    });
    const onExit = (code: number | null): void => fail(new Error(`an agent process exited with ${code} while waiting for ${op}`));
    const onError = (e: Error): void => fail(e);
    for (const p of this.procs) p.once('exit', onExit).once('error', onError);
    try {
      this.procs.forEach((p, i) => p.send(msg(i)));
      await done;
    } finally {
      for (const p of this.procs) p.off('exit', onExit).off('error', onError);
    }
    return this.procs.map((_, i) => got.get(i)!);
  }
  /** Receive times of event `rev` at every watcher (all groups), or what arrived by the timeout. */
  seen(rev: string, timeoutMs: number): Promise<number[]> {
    const at: number[] = [];
    let answered = 0;
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(at), timeoutMs);
      this.waiters.push((m) => {
        if (m.op !== 'seen' || m.rev !== rev) return false;
        at.push(...m.at);
        if (++answered < this.procs.length) return false;
        clearTimeout(t);
        resolve(at);
        return true;
      });
    });
  }
}

function spawnBroker(cliMain: string, dir: string, socket: string, token: string): Promise<{ url: string; pid: number }> {
  return new Promise((resolve, reject) => {
    // One API process, no job worker: the bench runs the owner GC and the gc job itself, to time them alone. The
    // watch limit is per credential (each cluster has its own), so 512 watchers need no flag.
    const p = spawn(process.execPath, [cliMain, 'broker', '--listen', '127.0.0.1:0', '--state-dir', dir, '--redis', `unix://${socket}`, '--role', 'api'], {
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

/** What every owner-GC run read before the holder index: every lease of the reporting clusters, and their live sets. */
async function ownerGcListing(store: BrokerStore): Promise<number> {
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

/** What every gc job run read before it followed departures: every Block and AddressLease, into the process. */
async function gcJobListing(store: BrokerStore): Promise<number> {
  const clusters = new Set((await store.list('Cluster')).items.map((c) => c.id));
  let gone = 0;
  for (const b of (await store.list('Block')).items) if (!clusters.has(b.cluster)) gone++;
  for (const a of (await store.list('AddressLease')).items) if (!clusters.has(a.cluster)) gone++;
  return gone;
}

export async function runScale(o: ScaleOptions): Promise<ScaleFigures> {
  const bad = validateScaleOptions(o);
  if (bad) throw new Error(bad);
  const log = o.log ?? (() => undefined);
  const CLUSTERS = o.clusters;
  const PROCS = Math.min(o.procs, CLUSTERS);
  const perCluster = Math.floor((o.leases - CLUSTERS * NODES) / CLUSTERS);

  const dir = mkdtempSync(join(tmpdir(), 'strait-bench-scale-'));
  const socket = join(dir, 'redis.sock');
  const redisD = startDaemon(['redis-server', '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'no'], { logFile: join(dir, 'redis.log') });
  const token = 'bench-scale-admin-token';
  const procs: AgentProc[] = [];
  let brokerPid = 0;
  let sampler: NodeJS.Timeout | undefined;
  let admin: BrokerClient | undefined;
  let store: BrokerStore | undefined;
  try {
    for (let i = 0; ; i++) {
      const r = new Redis({ path: socket, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      r.on('error', () => undefined);
      try {
        await r.connect();
        await r.ping();
        break;
      } catch (e) {
        if (i >= 200) throw e;
        await new Promise((res) => setTimeout(res, 50));
      } finally {
        r.disconnect();
      }
    }
    const broker = await spawnBroker(o.cliMain, dir, socket, token);
    brokerPid = broker.pid;
    let rssPeak = rssMiB(brokerPid);
    sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(brokerPid))), 250);
    admin = new BrokerClient({ baseUrl: broker.url, token });
    store = new BrokerStore(new Redis({ path: socket }));
    await admin.createPool({ name: 'nodes', cidr: '10.0.0.0/9', blockSize: 24 });
    await admin.createPool({ name: 'addrs', cidr: '10.128.0.0/9', blockSize: 24 });
    const jt = await admin.createToken({ uses: CLUSTERS });

    if (PROCS === 0) procs.push(new LocalAgents());
    else {
      if (!o.agentMain) throw new Error('agent processes need agentMain');
      for (let i = 0; i < PROCS; i++) procs.push(fork(o.agentMain, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }) as unknown as AgentProc);
    }
    const groups = Math.max(1, PROCS);
    const agents = new Agents(procs);
    const slice = (i: number): number[] => Array.from({ length: CLUSTERS }, (_, c) => c).filter((c) => c % groups === i);

    // ------------------------------------------------------------------ join
    log(`join: ${CLUSTERS} clusters in ${groups} agent group(s)`);
    let t0 = performance.now();
    const joined = await agents.all((i) => ({ op: 'join', url: broker.url, joinToken: jt.token, clusters: slice(i) }), 'joined');
    const joinMs = performance.now() - t0;
    const joinLat = joined.flatMap((j) => j.lat);

    // ------------------------------------------------------------------ leases
    log(`lease: ${CLUSTERS} × (${NODES} blocks + ${perCluster} addresses)`);
    t0 = performance.now();
    const leased = await agents.all(() => ({ op: 'lease', perCluster }), 'leased');
    const leaseMs = performance.now() - t0;
    const leases = leased.reduce((a, l) => a + l.leases, 0);
    const leaseLat = leased.flatMap((l) => l.lat);
    const rssAfterLeases = rssMiB(brokerPid);

    // ------------------------------------------------------------------ heartbeats with complete sets
    log('heartbeat: complete node and owner sets');
    t0 = performance.now();
    const hbs = await agents.all(() => ({ op: 'heartbeat' }), 'heartbeated');
    const heartbeatMs = performance.now() - t0;
    const hbLat = hbs.flatMap((h) => h.lat);

    // ------------------------------------------------------------------ pool change → every watcher
    log(`watch: ${CLUSTERS} watchers, ${o.changes} pool changes`);
    const since = (await admin.listPools()).resourceVersion;
    await agents.all(() => ({ op: 'watch', since }), 'watching');
    const a = admin;
    const s = store;
    /** One pool change and its receive time at each watcher; the event can arrive before the PUT answers, so the
     * bench listens for the next revision first (nothing else writes meanwhile). */
    const change = async (description: string): Promise<{ s: number; at: number[] }> => {
      const rev = String(Number(await s.currentRev()) + 1);
      const seen = agents.seen(rev, 10_000);
      const start = wallMs();
      const p = await a.putPool('nodes', { description });
      if (p.resourceVersion !== rev) throw new Error(`another write came between (rev ${p.resourceVersion}, expected ${rev})`);
      return { s: start, at: await seen };
    };
    // Warm-up: also proves every watch is open (each group answers once all its watchers saw the change).
    let warmUps = 0;
    for (;;) {
      warmUps++;
      const got = (await change(`warm-up ${warmUps}`)).at.length;
      if (got === CLUSTERS) break;
      if (warmUps >= 5) throw new Error(`${got} of ${CLUSTERS} watchers saw warm-up change ${warmUps}`);
    }
    const deliveries: number[] = [];
    const toAll: number[] = [];
    let incomplete = 0;
    for (let k = 0; k < o.changes; k++) {
      const { s: start, at } = await change(`change ${k}`);
      if (at.length < CLUSTERS) incomplete++;
      for (const x of at) deliveries.push(x - start);
      toAll.push(Math.max(...at) - start);
      await new Promise((r) => setTimeout(r, 20));
    }
    const rssWatching = rssMiB(brokerPid);
    const stopped = await agents.all(() => ({ op: 'stop' }), 'stopped');

    // ------------------------------------------------------------------ owner GC at this size
    log('owner GC');
    const now = Date.now();
    const ownerListing = o.compareListing ? await timed(() => ownerGcListing(s)) : undefined;
    const idle = await timed(() => s.collectOwnerless(now, OWNER_GRACE_MS));
    // one owner of one cluster gone
    await a.heartbeat(clusterId(0), { nodes: nodeNames(), addressOwners: ownerNames(0, perCluster).slice(1) });
    const oneMark = await timed(() => s.collectOwnerless(now, OWNER_GRACE_MS));
    const oneDue = await timed(() => s.collectOwnerless(now + OWNER_GRACE_MS, OWNER_GRACE_MS));
    // one node and two owners gone in every cluster
    await inPool(Array.from({ length: CLUSTERS }, (_, c) => c), 8, async (c) => {
      await a.heartbeat(clusterId(c), { nodes: nodeNames().slice(1), addressOwners: ownerNames(c, perCluster).slice(c === 0 ? 1 : 0).slice(2) });
    });
    const manyMark = await timed(() => s.collectOwnerless(now + OWNER_GRACE_MS, OWNER_GRACE_MS));
    const manyDue = await timed(() => s.collectOwnerless(now + 2 * OWNER_GRACE_MS, OWNER_GRACE_MS));

    // ------------------------------------------------------------------ the gc job (clusters that left)
    log('gc job');
    const gcListing = o.compareListing ? await timed(() => gcJobListing(s)) : undefined;
    const gcIdle = await timed(() => collectGarbage(s, GC_GRACE_MS, now));
    // what cluster 1 holds now: its leases, less the node and two owners the owner GC returned (no listing: at 1M
    // leases a listing here would cost more than everything it measures)
    const heldByLeaver = NODES - 1 + (perCluster - 2);
    await a.removeCluster(clusterId(1));
    const gcLeft = await timed(() => collectGarbage(s, GC_GRACE_MS, Date.now()));
    const gcDue = await timed(() => collectGarbage(s, GC_GRACE_MS, Date.now() + GC_GRACE_MS));
    const gcAfter = await timed(() => collectGarbage(s, GC_GRACE_MS, Date.now() + GC_GRACE_MS));

    // ------------------------------------------------------------------ memory
    const info = await s.redis.info('memory');
    const mem = (k: string): number => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1]);
    clearInterval(sampler);
    const mib = (b: number): number => r1(b / 1048576);
    const gcRuns = [idle.ms, oneMark.ms, oneDue.ms, manyMark.ms, manyDue.ms];
    return {
      clusters: CLUSTERS,
      agentProcesses: PROCS,
      leases,
      join: { totalMs: Math.round(joinMs), perSecond: r1(CLUSTERS / (joinMs / 1000)), p50Ms: r1(pct(joinLat, 50)), p99Ms: r1(pct(joinLat, 99)) },
      leasing: { totalMs: Math.round(leaseMs), leasesPerSecond: Math.round(leases / (leaseMs / 1000)), requests: leaseLat.length, requestP50Ms: r1(pct(leaseLat, 50)), requestP99Ms: r1(pct(leaseLat, 99)) },
      heartbeats: { totalMs: Math.round(heartbeatMs), ownersPerHeartbeat: perCluster, p50Ms: r1(pct(hbLat, 50)), p99Ms: r1(pct(hbLat, 99)) },
      propagation: {
        changes: o.changes,
        watchers: CLUSTERS,
        warmUps,
        incompleteChanges: incomplete,
        deliveries: deliveries.length,
        perDeliveryMs: { p50: r1(pct(deliveries, 50)), p99: r1(pct(deliveries, 99)), max: r1(Math.max(...deliveries)) },
        toAllWatchersMs: { p50: r1(pct(toAll, 50)), p99: r1(pct(toAll, 99)), max: r1(Math.max(...toAll)) },
        watchErrors: stopped.reduce((x, y) => x + y.watchErrors, 0),
        rewatches: stopped.reduce((x, y) => x + y.rewatches, 0),
        linesReceived: stopped.reduce((x, y) => x + y.lines, 0),
      },
      brokerRssMiB: { afterLeases: r1(rssAfterLeases), watching: r1(rssWatching), peak: r1(rssPeak) },
      redisMemoryMiB: { used: mib(mem('used_memory')), rss: mib(mem('used_memory_rss')) },
      ownerGc: {
        idleMs: idle.ms,
        oneOwnerGone: { markMs: oneMark.ms, returnMs: oneDue.ms, returned: oneDue.result.addresses + oneDue.result.blocks },
        everyClusterOneNodeTwoOwnersGone: { markMs: manyMark.ms, returnMs: manyDue.ms, returned: manyDue.result.addresses + manyDue.result.blocks },
        slowestRunMs: Math.max(...gcRuns),
        ...(ownerListing ? { listingAsBeforeMs: ownerListing.ms } : {}),
      },
      gcJob: {
        idleMs: gcIdle.ms,
        oneClusterLeftMs: gcLeft.ms,
        oneClusterDueMs: gcDue.ms,
        returned: gcDue.result.blocks + gcDue.result.addresses,
        heldByLeaver,
        afterMs: gcAfter.ms,
        ...(gcListing ? { listingAsBeforeMs: gcListing.ms } : {}),
      },
      goals: {
        brokerRssAtMost512MiB: rssPeak <= 512,
        propagationP99ToAllAtMost200ms: pct(toAll, 99) <= 200 && incomplete === 0,
        ownerGcUnder1sPerRun: Math.max(...gcRuns) < 1000,
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    admin?.close();
    store?.redis.disconnect();
    for (const p of procs) if (p.exitCode === null && 'kill' in p) (p as unknown as { kill: () => void }).kill();
    if (brokerPid) await stopPid(brokerPid);
    await stopPid(redisD.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}
