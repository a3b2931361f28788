// `npm run bench:broker-ha`: ten trials of kill -9 of the Redis primary under 64 leasing clients (broker on Redis
// Sentinel, real redis-server and redis-server --sentinel processes), then leases/s with and without WAIT.
// BENCH_TRIALS and BENCH_SECONDS change the counts.
import { describe, expect, it } from '@jest/globals';
import { leaseRate, percentile, runFailoverTrial, type FailoverTrial } from './sentinel-failover-e2e-suite.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

describe('bench: the broker on Redis Sentinel', () => {
  it(`kill -9 of the primary, ${TRIALS} trials`, async () => {
    const trials: FailoverTrial[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const t = await runFailoverTrial(`sb${process.pid}t${i}`);
      trials.push(t);
      process.stdout.write(`trial ${i + 1}/${TRIALS}: ${JSON.stringify({ ...t, lost: t.lost.length, duplicates: t.duplicates.length })}\n`);
    }
    const back = trials.map((t) => t.writesBackMs);
    const promoted = trials.map((t) => t.promotedMs);
    const summary = {
      trials: TRIALS,
      acknowledged: trials.reduce((n, t) => n + t.acknowledged, 0),
      lost: trials.reduce((n, t) => n + t.lost.length, 0),
      duplicates: trials.reduce((n, t) => n + t.duplicates.length, 0),
      outcomeUnknown: trials.reduce((n, t) => n + t.unknown, 0),
      promotedMs: { p50: percentile(promoted, 50), p99: percentile(promoted, 99) },
      writesBackMs: { p50: percentile(back, 50), p99: percentile(back, 99), max: Math.max(...back) },
      jobsRan: trials.filter((t) => t.jobRanAfterMs > 0).length,
      contestedFailovers: trials.filter((t) => t.failoverAttempts > 1).length,
    };
    process.stdout.write(`failover: ${JSON.stringify(summary)}\n`);
    expect(summary.lost).toBe(0);
    expect(summary.duplicates).toBe(0);
    expect(summary.jobsRan).toBe(TRIALS);
    expect(summary.writesBackMs.p99).toBeLessThanOrEqual(5000);
  }, 60 * 60_000);

  it(`leases/s of 64 clients with and without WAIT (${SECONDS} s each)`, async () => {
    const rates: Record<string, number[]> = { wait1: [], wait0: [] };
    // Alternated, twice each, so machine load drifts into both alike.
    for (let round = 0; round < 2; round++) {
      rates.wait1!.push(await leaseRate(`sr${process.pid}a${round}`, 1, SECONDS * 1000));
      rates.wait0!.push(await leaseRate(`sr${process.pid}b${round}`, 0, SECONDS * 1000));
    }
    process.stdout.write(`leases/s: ${JSON.stringify(Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, v.map(Math.round)])))}\n`);
  }, 30 * 60_000);
});
