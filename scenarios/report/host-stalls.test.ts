import { annotateHostStalls, formatTrialStalls, hostStallsPerMinute, trialHostStalls } from './host-stalls.js';
import type { HostStallRecord, RunReport, TrialResult } from './model.js';
import { summariseRun } from './model.js';

const MEMORY = 30_000;
const rec = (stalls: HostStallRecord['stalls'], extra: Partial<HostStallRecord> = {}): HostStallRecord => ({
  cpus: 2, minMs: 20, countMs: 50, memoryMs: MEMORY, startedAt: 0, stoppedAt: 120_000, stalls, ...extra,
});

function trial(index: number, faultAt: number, outageMs: number): TrialResult {
  return {
    index, fault: 'link-down', faultKind: 'link-down', profile: 'default', faultedGateway: 'c1-gw1', expectedGateway: 'c1-gw2',
    takeoverGateway: 'c1-gw2', startedAt: faultAt - 800, faultAt, endedAt: faultAt + 2500, outageMs, lost: 1, recovered: true,
    eipConflict: false, eipConflicts: [], wrongSourceIPs: [], flows: [], violations: [],
  };
}

describe('host stalls in a run report', () => {
  it('counts a stall from the stall memory before the fault to the end of the trial, nothing else', () => {
    const stalls = [
      { cpu: 0, at: 10_000, ms: 100 }, // 40 s before the fault: forgotten by the agents
      { cpu: 1, at: 25_000, ms: 101 }, // 25 s before: remembered
      { cpu: 0, at: 49_000, ms: 30 }, // too short to count
      { cpu: 1, at: 51_000, ms: 80 }, // during the trial
      { cpu: 0, at: 53_000, ms: 100 }, // after the trial's end
    ];
    expect(trialHostStalls(stalls, 50_000, 52_500, MEMORY, 50)).toEqual([
      { cpu: 1, atMs: -25_000, ms: 101 },
      { cpu: 1, atMs: 1000, ms: 80 },
    ]);
    // A stall that began before the memory but lasted into it still counts.
    expect(trialHostStalls([{ cpu: 0, at: 19_950, ms: 100 }], 50_000, 52_500, MEMORY, 50)).toHaveLength(1);
  });

  it('summarises the trials that lived with no stall apart, and keeps the whole distribution as it was', () => {
    const trials = [trial(1, 50_000, 300), trial(2, 100_000, 150), trial(3, 150_000, 160)];
    const report: RunReport = { scenario: 'gateway-failover', profile: 'default', runId: 'abc123', startedAt: '', trials, summary: summariseRun(trials) };
    annotateHostStalls(report, rec([{ cpu: 0, at: 49_000, ms: 100 }], { stoppedAt: 180_000 }));
    expect(report.trials.map((t) => t.hostStalls?.length)).toEqual([1, 0, 0]);
    expect(report.summary.p99OutageMs).toBe(300);
    expect(report.summary.hostStallFree).toMatchObject({ trials: 2, maxOutageMs: 160 });
    expect(formatTrialStalls(report.trials[0]!.hostStalls)).toBe('−1.0 s cpu0 100 ms');
    expect(formatTrialStalls(report.trials[1]!.hostStalls)).toBe('none');
    expect(hostStallsPerMinute(report.hostStalls!)).toBe(0.3);
  });

  it('says nothing about trials when the watch was not available', () => {
    const trials = [trial(1, 50_000, 300)];
    const report: RunReport = { scenario: 'gateway-failover', profile: 'default', runId: 'abc123', startedAt: '', trials, summary: summariseRun(trials) };
    annotateHostStalls(report, rec([], { unavailable: 'taskset: not found' }));
    expect(report.trials[0]!.hostStalls).toBeUndefined();
    expect(report.summary.hostStallFree).toBeUndefined();
    expect(hostStallsPerMinute(report.hostStalls!)).toBeNull();
    expect(formatTrialStalls(undefined)).toBe('–');
  });
});
