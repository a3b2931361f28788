import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRoot } from '../../testing/index.js';
import { runScenarioCommand } from './main.js';
import { loadScenario } from '../model/scenario-files.js';

// The built-in scenario against the real lab: gateway agents, node steering, WireGuard, nftables SNAT, a Redis
// lease store. One trial per fault; the test asserts behaviour (recovery, takeover, no conflict, right source IP),
// never timing budgets — `npm run bench:failover` measures the distribution.
describeRoot('gateway-failover scenario (real lab, root)', () => {
  it('every fault: traffic recovers through the standby, the egress IP is never on two gateways, servers see the right source', async () => {
    const s = loadScenario('gateway-failover');
    const scenario = { ...s, timing: { beforeFaultMs: 500, afterFaultMs: 2500, settleMs: 3500 } };
    const dir = mkdtempSync(join(tmpdir(), 'strait-scenario-'));
    let failed = true;
    try {
      const { report } = await runScenarioCommand({ scenario, trials: 1, reportDir: dir });
      expect(report.trials.map((t) => t.fault).sort()).toEqual(s.faults.map((f) => f.kind).sort());
      for (const t of report.trials) {
        const got = {
          fault: t.fault,
          recovered: t.recovered,
          takeover: t.takeoverGateway,
          eipConflict: t.eipConflict,
          wrongSourceIPs: t.wrongSourceIPs,
          crossClusterTcp: t.flows.find((f) => f.kind === 'cross-cluster')?.tcp?.survived,
        };
        expect(got).toEqual({ fault: t.fault, recovered: true, takeover: t.expectedGateway, eipConflict: false, wrongSourceIPs: [], crossClusterTcp: true });
      }
      expect(existsSync(join(dir, 'summary.md'))).toBe(true);
      expect(readFileSync(join(dir, 'trial-1.svg'), 'utf8')).toContain('<svg');
      failed = false;
    } finally {
      // A failure keeps the report (daemon logs in logs/) and prints its summary: per trial outage, flows, takeover.
      if (failed) {
        const summary = existsSync(join(dir, 'summary.md')) ? readFileSync(join(dir, 'summary.md'), 'utf8') : '(no summary: the lab did not come up)';
        console.error(`scenario report kept in ${dir}:\n${summary}`);
      } else {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 280_000);
});

describe('scenario files', () => {
  it('refuses an unknown scenario with the built-ins named', () => {
    expect(() => loadScenario('no-such-scenario')).toThrow(/gateway-failover/);
  });
});
