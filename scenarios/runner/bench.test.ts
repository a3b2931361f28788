import { describe, expect, it } from '@jest/globals';
import { parseBenchArgs, renderFailoverSection, summariseLoad } from './bench.js';
import type { RunReport } from '../report/model.js';

const summary = { trials: 2, p50OutageMs: 50, p95OutageMs: 60, p99OutageMs: 60, maxOutageMs: 60, eipConflicts: 0, wrongSourceIPs: 0, failed: 0 };

describe('bench:failover section', () => {
  it('summarises the sampled load average', () => {
    expect(summariseLoad([])).toBeNull();
    expect(summariseLoad([1, 2, 4.04])).toEqual({ samples: 3, min: 1, mean: 2.3, max: 4 });
  });

  it('puts the quiet and the stressed distribution side by side with the commit, the load and the stress command', () => {
    const report = { scenario: 'gateway-failover', profile: 'fast', runId: 'abc123', startedAt: '', trials: [], summary: { ...summary, byFault: { 'gateway-sigkill': summary } } } as unknown as RunReport;
    const hot = { ...summary, p50OutageMs: 90, p99OutageMs: 130, maxOutageMs: 130, failed: 1 };
    const stressed = { ...report, stress: { spec: 'cpu=8', command: ['stress-ng', '--cpu', '8'] }, summary: { ...hot, byFault: { 'gateway-sigkill': hot } } } as unknown as RunReport;
    const md = renderFailoverSection(
      [
        { report, reportDir: '/tmp/r', load: { samples: 3, min: 1, mean: 2.3, max: 4 }, condition: 'quiet', commit: 'c0ffee' },
        { report: stressed, reportDir: '/tmp/s', load: { samples: 3, min: 9, mean: 9.5, max: 10 }, commit: 'c0ffee' },
      ],
      20,
      '2 cores',
      'npm run bench:failover -- --profile fast',
    );
    expect(md).toContain('`npm run bench:failover -- --profile fast`');
    expect(md).toContain('Commit: c0ffee; each condition built and run from its own clean export');
    expect(md).toContain('beside `stress-ng --cpu 8`');
    expect(md).toContain('fast quiet 1–4 (mean 2.3); fast stressed 9–10 (mean 9.5)');
    expect(md).toContain('| fast | `gateway-sigkill` | 2 | 50 | 60 | 60 | 60 | 0 | 0 | 2 | 90 | 60 | 130 | 130 | 0 | 1 |');
    // Goal of the profile, and the stressed p99 judged against twice the quiet one (130 > 120).
    expect(md).toContain('| **Strait, profile fast** | 60 | 130 | p99 ≤ 60 quiet | **no** |');
    // No stall watch in these reports: no stall table.
    expect(md).not.toContain('host never stalled');
  });

  it('adds the trials on which the host never stalled, per profile and condition, when the runs watched the host', () => {
    const free = { ...summary, trials: 1, p50OutageMs: 40, p95OutageMs: 40, p99OutageMs: 40, maxOutageMs: 40 };
    const hostStalls = { cpus: 2, minMs: 20, countMs: 50, memoryMs: 30_000, startedAt: 0, stoppedAt: 120_000, stalls: [{ cpu: 0, at: 1, ms: 100 }, { cpu: 1, at: 2, ms: 30 }] };
    const report = { scenario: 'gateway-failover', profile: 'fast', runId: 'abc123', startedAt: '', trials: [], hostStalls, summary: { ...summary, hostStallFree: free, byFault: { 'gateway-sigkill': summary } } } as unknown as RunReport;
    const md = renderFailoverSection([{ report, reportDir: '/tmp/r', condition: 'quiet', commit: 'c0ffee' }], 20, '2 cores');
    expect(md).toContain('a CPU that did not run for ≥ 50 ms');
    expect(md).toContain('| fast | quiet | 0.5 | 1 | 40 | 40 | 40 | 40 | 0 | 0 |');
  });

  it('parses its flags and refuses unknown ones or bad values before any run starts', () => {
    expect(parseBenchArgs([])).toEqual({ help: false, trials: 20, profiles: ['default', 'fast'], doc: true, conditions: ['quiet', 'stressed'], stress: { cpu: 8, io: 0 } });
    expect(parseBenchArgs(['--trials', '5', '--profile', 'fast', '--no-doc', '--conditions', 'stressed', '--stress', 'cpu=4,io=1', '--only', 'partition'])).toEqual({
      help: false, trials: 5, profiles: ['fast'], doc: false, conditions: ['stressed'], stress: { cpu: 4, io: 1 }, only: ['partition'],
    });
    expect(() => parseBenchArgs(['--conditions', 'noisy'])).toThrow(/expected quiet, stressed or both/);
    expect(() => parseBenchArgs(['--stress', 'cpu=0'])).toThrow(/cpu/);
    expect(parseBenchArgs(['--help']).help).toBe(true);
    expect(() => parseBenchArgs(['--trails', '5'])).toThrow(/--trails[\s\S]*usage: npm run bench:failover/);
    expect(() => parseBenchArgs(['--trials', 'x'])).toThrow(/--trials x: expected a positive integer/);
    expect(() => parseBenchArgs(['--profile', 'turbo'])).toThrow(/expected default or fast/);
  });
});
