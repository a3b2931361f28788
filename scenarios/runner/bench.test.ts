import { describe, expect, it } from '@jest/globals';
import { parseBenchArgs, renderFailoverSection, summariseLoad } from './bench.js';
import type { RunReport } from '../report/model.js';

const summary = { trials: 2, p50OutageMs: 50, p95OutageMs: 60, p99OutageMs: 60, maxOutageMs: 60, eipConflicts: 0, wrongSourceIPs: 0, failed: 0 };

describe('bench:failover section', () => {
  it('summarises the sampled load average', () => {
    expect(summariseLoad([])).toBeNull();
    expect(summariseLoad([1, 2, 4.04])).toEqual({ samples: 3, min: 1, mean: 2.3, max: 4 });
  });

  it('names the command and the load of each profile run', () => {
    const report = { scenario: 'gateway-failover', profile: 'fast', runId: 'abc123', startedAt: '', trials: [], summary: { ...summary, byFault: { 'gateway-sigkill': summary } } } as unknown as RunReport;
    const md = renderFailoverSection([{ report, reportDir: '/tmp/r', load: { samples: 3, min: 1, mean: 2.3, max: 4 } }], 20, '2 cores', 'npm run bench:failover -- --profile fast');
    expect(md).toContain('`npm run bench:failover -- --profile fast`');
    expect(md).toContain('fast 1–4 (mean 2.3)');
    expect(md).toContain('| fast | `gateway-sigkill` | 2 | 50 | 60 | 60 | 60 | 0 | 0 | 0 |');
  });

  it('parses its flags and refuses unknown ones or bad values before any run starts', () => {
    expect(parseBenchArgs([])).toEqual({ help: false, trials: 20, profiles: ['default', 'fast'], doc: true });
    expect(parseBenchArgs(['--trials', '5', '--profile', 'fast', '--no-doc'])).toEqual({ help: false, trials: 5, profiles: ['fast'], doc: false });
    expect(parseBenchArgs(['--help']).help).toBe(true);
    expect(() => parseBenchArgs(['--trails', '5'])).toThrow(/--trails[\s\S]*usage: npm run bench:failover/);
    expect(() => parseBenchArgs(['--trials', 'x'])).toThrow(/--trials x: expected a positive integer/);
    expect(() => parseBenchArgs(['--profile', 'turbo'])).toThrow(/expected default or fast/);
  });
});
