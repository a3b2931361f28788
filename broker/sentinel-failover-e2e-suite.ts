// One trial of the broker on Redis Sentinel losing its primary (kill -9) under 64 leasing clients; shared by
// broker/sentinel-failover.test.ts (1 trial) and broker/sentinel-failover.bench.ts (`npm run bench:broker-ha`, 10).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BrokerClient, isStraitError, type AddressLease } from '../api/index.js';
import { createLogger, sleep, waitFor } from '../host/index.js';
import { startTestSentinelGroup, type TestSentinelGroup } from '../testing/index.js';
import { startBroker, type BrokerHandle } from './server.js';

export const CLIENTS = 64;
const ADMIN = 'sentinel-admin-token-0123456789';
const trace = (...a: unknown[]): void => {
  if (process.env.STRAIT_TRACE_TRIAL) console.error(new Date().toISOString(), ...a);
};

export interface FailoverTrial {
  /** leases the clients were told they hold */
  acknowledged: number;
  /** acknowledged leases missing from the broker afterwards (must be 0) */
  lost: string[];
  /** addresses held by two owners among the acknowledged leases (must be 0) */
  duplicates: string[];
  /** owners whose lease answered OUTCOME_UNKNOWN after the client's retries (may or may not exist) */
  unknown: number;
  /** kill → the sentinels name a new primary */
  promotedMs: number;
  /**
   * kill → the first write started after the kill succeeds: the earlier of a writer trying every 50 ms (no retries
   * of its own, 2 s request timeout) and the 64 clients (whose retries back off)
   */
  writesBackMs: number;
  /** kill → the dedicated writer's first success */
  writerBackMs: number;
  /** kill → the first of the 64 clients' writes started after the kill succeeds (their retries back off) */
  clientsBackMs: number;
  /** the bullmq job due after the kill completed, and when (ms after the kill) */
  jobRanAfterMs: number;
  /** `+try-failover` lines over all sentinels: more than one means several started a failover and one lost (or split) the election */
  failoverAttempts: number;
  errors: Record<string, number>;
}

interface Setup {
  group: TestSentinelGroup;
  broker: BrokerHandle;
  dir: string;
  cred: string;
}

async function setUp(runId: string, replicas: number): Promise<Setup> {
  const group = await startTestSentinelGroup({ runId });
  const dir = mkdtempSync(join(tmpdir(), `strait-broker-${runId}-`));
  try {
    const broker = await startBroker({
      listen: '127.0.0.1:0',
      stateDir: dir,
      redisSentinels: group.sentinels,
      redisName: group.name,
      replicaAck: { replicas },
      role: 'all',
      adminToken: ADMIN,
      credentialCacheMs: 60_000,
      logger: createLogger('broker', 'silent'),
    });
    const admin = new BrokerClient({ baseUrl: broker.url, token: ADMIN });
    try {
      const t = await admin.createToken({ uses: 1 });
      const cred = (await admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, t.token)).credentials.token;
      await admin.createPool({ name: 'eg', cidr: '10.64.0.0/14', purpose: 'egress', cluster: 'east' });
      return { group, broker, dir, cred };
    } finally {
      admin.close();
    }
  } catch (e) {
    await group.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function tearDown(s: Setup): Promise<void> {
  await s.broker.stop();
  await s.group.stop();
  rmSync(s.dir, { recursive: true, force: true });
}

/** Runs the whole trial: starts the Sentinel group and the broker, leases, kills the primary, checks, stops everything. */
export async function runFailoverTrial(runId: string, opts: { leaseMsBeforeKill?: number; leaseMsAfterBack?: number } = {}): Promise<FailoverTrial> {
  const s = await setUp(runId, 1);
  trace('set up');
  try {
    const clients = Array.from({ length: CLIENTS }, () => new BrokerClient({ baseUrl: s.broker.url, token: s.cred, timeoutMs: 5000 }));
    const acked: AddressLease[] = [];
    const errors: Record<string, number> = {};
    let unknown = 0;
    let killAt = 0;
    let backAt = 0;
    let stopAt = Number.POSITIVE_INFINITY;
    const loops = clients.map(async (c, i) => {
      for (let k = 0; Date.now() < stopAt; k++) {
        const started = Date.now();
        try {
          acked.push(await c.leaseAddress('eg', { owner: `o-${i}-${k}` }));
          const now = Date.now();
          if (killAt > 0 && started > killAt && backAt === 0) {
            backAt = now;
            stopAt = now + (opts.leaseMsAfterBack ?? 1000);
          }
        } catch (e) {
          const code = isStraitError(e) ? e.code : 'OTHER';
          errors[code] = (errors[code] ?? 0) + 1;
          if (errors[code] % 50 === 1) trace('error', code, (e as Error).message, s.broker.store.redis.status);
          if (code === 'OUTCOME_UNKNOWN') unknown++;
          else if (code !== 'UNAVAILABLE') throw e;
          await sleep(20);
        }
      }
    });
    const pc = new Redis({ sentinels: s.group.sentinels, name: s.group.name, maxRetriesPerRequest: null });
    pc.on('error', () => undefined);
    const probe = new Queue('broker-jobs', { connection: pc, prefix: '{strait}:bull' });
    probe.on('error', () => undefined);
    try {
      await sleep(opts.leaseMsBeforeKill ?? 1500);
      // A job due after the kill, on both replicas before the kill (WAIT), must run on the promoted primary.
      const job = await probe.add('failover-probe', {}, { delay: 1500, removeOnComplete: false });
      if ((await pc.wait(2, 2000)) < 2) throw new Error('the probe job did not reach both replicas');
      const primary = await s.group.primaryPort();
      trace('kill', primary, acked.length);
      killAt = Date.now();
      if (killAt >= job.timestamp + 1500) throw new Error('the probe job was due before the kill: the trial proves nothing about it');
      await s.group.kill(primary);
      // Time to the first write that succeeds after the kill, by a writer that tries every 50 ms without retries of
      // its own (the 64 clients back off between retries, which would round the figure up).
      const prober = new BrokerClient({ baseUrl: s.broker.url, token: s.cred, retries: 0, timeoutMs: 2000 });
      const firstWrite = (async () => {
        for (let k = 0; Date.now() - killAt < 60_000; k++) {
          try {
            await prober.leaseAddress('eg', { owner: `probe-${k}` });
            return Date.now();
          } catch {
            await sleep(50);
          }
        }
        return 0;
      })();
      const promoted = await s.group.waitForPromotion(primary);
      const promotedMs = Date.now() - killAt;
      trace('promoted', promoted, promotedMs);
      if (promoted === primary) throw new Error('no promotion');
      const writeBackAt = await firstWrite;
      prober.close();
      if (writeBackAt === 0) throw new Error('no write succeeded within 60 s of the kill');
      await waitFor('a client write after the kill', () => backAt > 0, 60_000, 20);
      trace('writes back', writeBackAt - killAt, backAt - killAt, errors);
      const events = s.group.sentinelEvents();
      if (promotedMs > 4000 || process.env.STRAIT_TRACE_TRIAL) for (const e of events) console.error(`sentinel ${runId}: ${e}`);
      await Promise.all(loops);
      trace('loops done', acked.length);
      const finishedOn = await waitFor('the probe job to run after the failover', async () => {
        const j = await probe.getJob(job.id!);
        return j?.finishedOn ?? false;
      }, 30_000, 50);

      // Every acknowledged lease is there, with its owner; no address went to two owners.
      const admin = new BrokerClient({ baseUrl: s.broker.url, token: ADMIN, retries: 10 });
      const listed = new Map((await admin.listAddresses({ pool: 'eg' })).items.map((a) => [a.ip, a.owner]));
      admin.close();
      const lost = acked.filter((a) => listed.get(a.ip) !== a.owner).map((a) => `${a.ip} (${a.owner})`);
      const byIp = new Map<string, Set<string>>();
      for (const a of acked) byIp.set(a.ip, (byIp.get(a.ip) ?? new Set()).add(a.owner));
      const duplicates = [...byIp].filter(([, o]) => o.size > 1).map(([ip, o]) => `${ip}: ${[...o].join(', ')}`);
      for (const c of clients) c.close();
      const failoverAttempts = events.filter((e) => /\+try-failover/.test(e)).length;
      return {
        acknowledged: acked.length, lost, duplicates, unknown, promotedMs,
        writesBackMs: Math.min(writeBackAt, backAt) - killAt, writerBackMs: writeBackAt - killAt, clientsBackMs: backAt - killAt,
        jobRanAfterMs: finishedOn - killAt, failoverAttempts, errors,
      };
    } finally {
      stopAt = 0;
      await Promise.allSettled(loops);
      await probe.close().catch(() => undefined);
      pc.disconnect();
    }
  } finally {
    await tearDown(s);
  }
}

/** Leases/s of 64 clients for `ms` against a broker on Sentinel that waits for `replicas` replicas per write. */
export async function leaseRate(runId: string, replicas: number, ms: number): Promise<number> {
  const s = await setUp(runId, replicas);
  try {
    const clients = Array.from({ length: CLIENTS }, () => new BrokerClient({ baseUrl: s.broker.url, token: s.cred }));
    const end = Date.now() + ms;
    let n = 0;
    await Promise.all(clients.map(async (c, i) => {
      for (let k = 0; Date.now() < end; k++) {
        await c.leaseAddress('eg', { owner: `r-${i}-${k}` });
        n++;
      }
    }));
    for (const c of clients) c.close();
    return (n * 1000) / ms;
  } finally {
    await tearDown(s);
  }
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
}
