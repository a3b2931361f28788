import { newRunId, runDir } from '../host/index.js';
import { join } from 'node:path';
import type { RunReport } from './report-model.js';
import { defaultReportDir, withFailoverLab } from './runner-main.js';
import { runScenario, type RunEvent } from './runner-run.js';
import { loadScenario } from './scenario-files.js';
import type { Profile, Scenario } from './scenario-model.js';

/**
 * The main demo: the built-in failover lab (broker lease store, two clusters with two gateway candidates and a
 * worker with a pod each, WireGuard between the clusters, an egress policy with one egress IP), traffic from a pod
 * to the other cluster and to the external server, one SIGKILL of the active gateway agent, the measured outage,
 * and teardown.
 */
export async function runFailoverDemo(o: { profile?: Profile; onStep?: (m: string) => void; onEvent?: (e: RunEvent) => void }): Promise<{ report: RunReport; reportDir: string }> {
  const base = loadScenario('gateway-failover');
  const s: Scenario = { ...base, name: 'demo', faults: [{ kind: 'gateway-sigkill' }], trialsPerFault: 1 };
  const profile = o.profile ?? 'default';
  const runId = newRunId();
  const reportDir = defaultReportDir('demo', runId);
  const report = await withFailoverLab({ scenario: s, profile, runId, ...(o.onStep ? { onStep: o.onStep } : {}) }, (b) =>
    runScenario(b, s, { profile, trialsPerFault: 1, reportDir, workDir: join(runDir(runId), 'probes'), ...(o.onEvent ? { onEvent: o.onEvent } : {}) }),
  );
  return { report, reportDir };
}
