import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { isRoot, newRunId, runDir } from '../../host/index.js';
import type { RunReport } from '../report/model.js';
import type { FailoverBackend } from '../model/failover-backend.js';
import { startGatewayBackend } from './gateway-backend.js';
import { runScenario, type RunEvent } from './run.js';
import { loadScenario, scenarioTopology } from '../model/scenario-files.js';
import type { Profile, Scenario } from '../model/scenario.js';
import { writeRunReport } from '../report/writer.js';
import { startStress, type StressSpec } from './stress.js';
import { withRunnerPriority } from './runner-priority.js';
import { startHostStallWatch } from './host-stalls.js';
import { annotateHostStalls } from '../report/host-stalls.js';

export interface ScenarioRunOptions {
  /** Built-in name or file. */
  scenario: string | Scenario;
  trials?: number;
  profile?: Profile;
  reportDir?: string;
  /** Only these faults (labels). */
  only?: readonly string[];
  /** stress-ng on the host for the whole run (scenarios/stress.ts), recorded in the report. */
  stress?: StressSpec;
  /** The gateways' lease stores (default: the scenario's `leaseStores`, 1; 3 for a quorum). */
  leaseStores?: number;
  onStep?: (message: string) => void;
  onEvent?: (e: RunEvent) => void;
}

/**
 * Runs `fn` with a freshly built failover backend and always tears it down: on success, on error and on
 * Ctrl-C / SIGTERM (the signal is re-raised as exit code 130 / 143 after teardown).
 */
export async function withFailoverLab<T>(
  o: { scenario: Scenario; profile: Profile; runId: string; onStep?: (m: string) => void; logsDir?: string; leaseStores?: number },
  fn: (b: FailoverBackend) => Promise<T>,
): Promise<T> {
  if (!isRoot()) throw new StraitError('SCENARIO_NEEDS_ROOT', 'scenarios build network namespaces: run as root (e.g. sudo)');
  let backend: FailoverBackend | null = null;
  let tearing: Promise<void> | null = null;
  const teardown = (): Promise<void> => (tearing ??= backend ? backend.down().then(() => undefined) : Promise.resolve());
  const onSignal = (sig: NodeJS.Signals): void => {
    o.onStep?.(`${sig}: tearing the lab down`);
    void teardown().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    backend = await startGatewayBackend({ topology: scenarioTopology(o.scenario), tunnel: o.scenario.tunnel, profile: o.profile, runId: o.runId, leaseStores: o.leaseStores ?? o.scenario.leaseStores, ...(o.onStep ? { onStep: o.onStep } : {}), ...(o.logsDir ? { logsDir: o.logsDir } : {}) });
    return await fn(backend);
  } finally {
    o.onStep?.('lab: tearing down');
    await teardown();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export function defaultReportDir(scenario: string, runId: string): string {
  return join(process.env.STRAIT_REPORT_BASE ?? '/tmp/strait-reports', `${scenario}-${runId}`);
}

/** `strait scenario run`: the whole thing, from a scenario name to a written report. */
export async function runScenarioCommand(o: ScenarioRunOptions): Promise<{ report: RunReport; reportDir: string }> {
  const s = typeof o.scenario === 'string' ? loadScenario(o.scenario) : o.scenario;
  if (s.kind === 'steady') throw new StraitError('INVALID_ARGUMENT', `${s.name} is a steady scenario (no fault): run it with runSteadyCommand / --duration`);
  const profile = o.profile ?? s.profile;
  const runId = newRunId();
  // Not under the run directory: teardown removes that, and the report must outlive the lab.
  const reportDir = o.reportDir ?? defaultReportDir(s.name, runId);
  const stress = o.stress ? await startStress(o.stress) : undefined;
  if (stress) o.onStep?.(`stress: ${stress.record.command.join(' ')} (pid ${stress.record.pid}, load ${stress.record.loadAvgAtStart.join(' ')})`);
  const stalls = await startHostStallWatch(reportDir);
  let report: RunReport;
  try {
    // Faults on time: see runner-priority.ts.
    report = await withRunnerPriority(() => withFailoverLab({ scenario: s, profile, runId, ...(o.leaseStores ? { leaseStores: o.leaseStores } : {}), logsDir: join(reportDir, 'logs'), ...(o.onStep ? { onStep: o.onStep } : {}) }, (b) =>
      runScenario(b, s, {
        profile,
        trialsPerFault: o.trials ?? s.trialsPerFault,
        reportDir,
        workDir: join(runDir(runId), 'probes'),
        ...(o.only ? { only: o.only } : {}),
        ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      }),
    ), () => o.onStep?.('runner: could not raise to realtime priority; under load faults may be injected late'));
  } finally {
    await stalls.stop();
    await stress?.stop();
  }
  annotateHostStalls(report, await stalls.stop());
  if (stress) report.stress = stress.record;
  writeRunReport(reportDir, report);
  return { report, reportDir };
}
