import { summarise, type HostStall, type HostStallRecord, type RunReport, type TrialHostStall } from './model.js';

/**
 * Which host stalls each trial lived with, pure. The agents remember their own and their peers' stalls for
 * `memoryMs` (gateway/failover/recent-max.ts): a CPU that stopped for 100 ms 20 s before a fault still widens the
 * detection threshold and the lease at the fault. A trial's stalls are therefore those from `memoryMs` before its
 * fault to its end, and the stall-free trials are the ones whose figures show the failover itself.
 */
export function trialHostStalls(stalls: readonly HostStall[], faultAt: number, endedAt: number, memoryMs: number, countMs: number): TrialHostStall[] {
  return stalls
    .filter((s) => s.ms >= countMs && s.at + s.ms >= faultAt - memoryMs && s.at <= endedAt)
    .sort((a, b) => a.at - b.at)
    .map((s) => ({ cpu: s.cpu, atMs: Math.round(s.at - faultAt), ms: s.ms }));
}

/** Adds every trial's stalls and the stall-free summary to a report (in place), and the record itself. */
export function annotateHostStalls(r: RunReport, rec: HostStallRecord): RunReport {
  r.hostStalls = rec;
  if (rec.unavailable !== undefined) return r;
  for (const t of r.trials) t.hostStalls = trialHostStalls(rec.stalls, t.faultAt, t.endedAt, rec.memoryMs, rec.countMs);
  r.summary.hostStallFree = summarise(r.trials.filter((t) => (t.hostStalls ?? []).length === 0));
  return r;
}

/** Stalls that count, per minute of the watch (null when there was none). */
export function hostStallsPerMinute(rec: HostStallRecord): number | null {
  const minutes = (rec.stoppedAt - rec.startedAt) / 60_000;
  if (rec.unavailable !== undefined || !(minutes > 0)) return null;
  return Math.round((rec.stalls.filter((s) => s.ms >= rec.countMs).length / minutes) * 10) / 10;
}

/** One trial's stalls in a table cell: `−12.3 s cpu0 100 ms`, … */
export function formatTrialStalls(stalls: readonly TrialHostStall[] | undefined): string {
  if (stalls === undefined) return '–';
  if (stalls.length === 0) return 'none';
  return stalls.map((s) => `${s.atMs < 0 ? '−' : '+'}${(Math.abs(s.atMs) / 1000).toFixed(1)} s cpu${s.cpu} ${Math.round(s.ms)} ms`).join('; ');
}
