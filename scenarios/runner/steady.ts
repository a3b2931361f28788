import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { newRunId, runDir } from '../../host/index.js';
import { watchGateways } from '../probes/gateway-watch.js';
import { readTcpResult, readUdpResult, startFlowProbes } from '../probes/traffic.js';
import type { FailoverBackend } from '../model/failover-backend.js';
import type { Profile, Scenario, TrafficKind } from '../model/scenario.js';
import { evaluateSteady, type SteadyMeasurement, type SteadyResult } from './evaluate-steady.js';
import { defaultReportDir, withFailoverLab } from './main.js';
import { GATEWAY_LOG_SUFFIX } from './gateway-backend.js';
import { startStress, type StressRecord, type StressSpec } from './stress.js';
import { withRunnerPriority } from './runner-priority.js';
import { startHostStallWatch } from './host-stalls.js';
import { formatTrialStalls, hostStallsPerMinute, trialHostStalls } from '../report/host-stalls.js';
import type { HostStallRecord, TrialHostStall } from '../report/model.js';
import { formatFenceLapses, parseFenceLapses, type FenceLapseRecord } from '../report/fence-lapses.js';

export interface SteadyReport extends SteadyResult {
  scenario: string;
  kind: 'steady';
  runId: string;
  stress?: StressRecord;
  /** The host stall watch beside the run (host-stalls.ts), and the stalls during the traffic (relative to its start). */
  hostStalls?: HostStallRecord;
  hostStallsDuringTraffic?: TrialHostStall[];
  /** Fence refreshes the holders logged as in force after the old fence's deadline, during the traffic. */
  fenceLapses?: FenceLapseRecord[];
}

/** The fence lapses in the gateway agents' logs kept in `logsDir` (`<gateway>.gateway.log`), within [from, to]. */
function readFenceLapses(logsDir: string, from: number, to: number): FenceLapseRecord[] | undefined {
  if (!existsSync(logsDir)) return undefined;
  return readdirSync(logsDir)
    .filter((f) => f.endsWith(GATEWAY_LOG_SUFFIX))
    .flatMap((f) => parseFenceLapses(f.slice(0, -GATEWAY_LOG_SUFFIX.length), readFileSync(join(logsDir, f), 'utf8'), from, to))
    .sort((a, b) => a.atMs - b.atMs);
}

/** Traffic for `durationMs` on a running backend, no fault; the gateways watched throughout. */
export async function runSteady(b: FailoverBackend, s: Scenario, o: { profile: Profile; durationMs: number; workDir: string }): Promise<{ result: SteadyResult; measurement: SteadyMeasurement }> {
  mkdirSync(o.workDir, { recursive: true });
  const kinds = s.traffic.kinds.filter((k): k is TrafficKind => b.flows[k] !== undefined);
  const watch = await watchGateways(b);
  const runs = kinds.map((k) => {
    const f = b.flows[k]!;
    return { kind: k, f, run: startFlowProbes(b.lab, b.clientPod, f.ip, { intervalMs: s.traffic.udpIntervalMs, durationMs: o.durationMs, tcp: s.traffic.tcpStream, dir: o.workDir, tag: `steady-${k}` }) };
  });
  let startedAt: number;
  try {
    await Promise.all(runs.map((r) => r.run.ready));
    startedAt = Date.now();
    for (const r of runs) r.run.go();
    await Promise.all(runs.map((r) => r.run.done));
  } catch (e) {
    for (const r of runs) r.run.abort();
    await watch.stop();
    throw e;
  }
  const { events, looks } = await watch.stop();
  const m: SteadyMeasurement = {
    profile: o.profile,
    cluster: b.cluster,
    startedAt,
    endedAt: Date.now(),
    flows: runs.map((r) => ({ kind: r.kind, expectedSource: r.f.expectedSource, udp: readUdpResult(r.run.udpFile), tcp: readTcpResult(r.run.tcpFile) })),
    events,
    fenceLooks: looks,
  };
  return { result: evaluateSteady(m), measurement: m };
}

/**
 * `strait scenario run steady`: builds the lab, runs traffic for `durationMs` (beside stress-ng when asked),
 * writes `report.json`, `summary.md` and `steady.timeline.json` (every probe record, route event and fence look).
 */
export async function runSteadyCommand(o: {
  scenario: Scenario;
  durationMs?: number;
  profile?: Profile;
  reportDir?: string;
  stress?: StressSpec;
  onStep?: (m: string) => void;
}): Promise<{ report: SteadyReport; reportDir: string }> {
  const s = o.scenario;
  if (s.kind !== 'steady') throw new StraitError('INVALID_ARGUMENT', `${s.name} is a ${s.kind} scenario, not a steady one`);
  const profile = o.profile ?? s.profile;
  const durationMs = o.durationMs ?? s.durationMs ?? 60_000;
  const runId = newRunId();
  const reportDir = o.reportDir ?? defaultReportDir(s.name, runId);
  const stress = o.stress ? await startStress(o.stress) : undefined;
  if (stress) o.onStep?.(`stress: ${stress.record.command.join(' ')} (pid ${stress.record.pid}, load ${stress.record.loadAvgAtStart.join(' ')})`);
  const stalls = await startHostStallWatch(reportDir);
  let done: { result: SteadyResult; measurement: SteadyMeasurement };
  try {
    // The runner's own timing (fence looks, route events) on time: see runner-priority.ts.
    done = await withRunnerPriority(() => withFailoverLab({ scenario: s, profile, runId, logsDir: join(reportDir, 'logs'), ...(o.onStep ? { onStep: o.onStep } : {}) }, (b) => {
      o.onStep?.(`steady: traffic for ${Math.round(durationMs / 1000)} s, no fault`);
      return runSteady(b, s, { profile, durationMs, workDir: join(runDir(runId), 'probes') });
    }), () => o.onStep?.('runner: could not raise to realtime priority (see runner-priority.ts)'));
  } finally {
    await stalls.stop();
    await stress?.stop();
  }
  const hostStalls = await stalls.stop();
  const m = done.measurement;
  const fenceLapses = readFenceLapses(join(reportDir, 'logs'), m.startedAt, m.endedAt);
  const report: SteadyReport = {
    scenario: s.name, kind: 'steady', runId, ...done.result, ...(stress ? { stress: stress.record } : {}), hostStalls,
    ...(fenceLapses ? { fenceLapses } : {}),
    // Relative to the traffic's start; a stall within the stall memory before it still widened the margins.
    ...(hostStalls.unavailable === undefined ? { hostStallsDuringTraffic: trialHostStalls(hostStalls.stalls, m.startedAt, m.endedAt, 0, hostStalls.countMs) } : {}),
  };
  mkdirSync(reportDir, { recursive: true });
  writeFileSync(join(reportDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(reportDir, 'summary.md'), renderSteadyMarkdown(report));
  writeFileSync(join(reportDir, 'steady.timeline.json'), JSON.stringify(done.measurement));
  return { report, reportDir };
}

/** The `--json` shape of a steady run: the figures, the moves and violations; evidence stays in report.json. */
export function steadyJsonOutput(r: SteadyReport, reportDir: string | null): unknown {
  return {
    scenario: r.scenario,
    kind: r.kind,
    profile: r.profile,
    runId: r.runId,
    reportDir,
    durationMs: r.durationMs,
    roleChanges: r.roleChanges,
    routeMoves: r.routeMoves,
    eipMoves: r.eipMoves,
    lostProbes: r.lostProbes,
    sentProbes: r.sentProbes,
    egressGapMs: r.egressGapMs,
    gapMs: r.gapMs,
    tcp: r.tcp,
    eipConflicts: r.eipConflicts.length,
    wrongSourceIPs: r.wrongSourceIPs,
    violations: r.violations,
    ...(r.stress ? { stress: r.stress } : {}),
    ...(r.hostStalls ? { hostStallsPerMinute: hostStallsPerMinute(r.hostStalls), hostStallsDuringTraffic: r.hostStallsDuringTraffic ?? null } : {}),
    fenceLapses: r.fenceLapses ?? null,
  };
}

function hostStallLines(r: SteadyReport): string[] {
  const h = r.hostStalls;
  if (!h) return [];
  if (h.unavailable !== undefined) return [`Host stall watch: not available (${h.unavailable}).`, ''];
  return [
    `Host stalls (a CPU that did not run for ≥ ${h.countMs} ms, seen by a pinned SCHED_RR 99 watcher per CPU): ${hostStallsPerMinute(h) ?? '–'} per minute; ` +
      `during the traffic (from its start): ${formatTrialStalls(r.hostStallsDuringTraffic)}.`,
    '',
  ];
}

export function renderSteadyMarkdown(r: SteadyReport): string {
  const lines = [
    `# Steady run ${r.runId} (${r.scenario}, profile ${r.profile})`,
    '',
    ...(r.stress ? [`Under stress: \`${r.stress.command.join(' ')}\`, load ${r.stress.loadAvgAtStart.join(' ')} → ${(r.stress.loadAvgAtStop ?? []).join(' ')}.`, ''] : []),
    ...hostStallLines(r),
    `Egress fence lapses (a holder's refresh in force after its old fence's deadline, from the gateway logs): ${formatFenceLapses(r.fenceLapses)}.`,
    '',
    `| duration s | role changes | lost probes | egress gap ms | gaps per flow ms | TCP | EIP conflicts | result |`,
    '|---|---|---|---|---|---|---|---|',
    `| ${Math.round(r.durationMs / 1000)} | ${r.roleChanges} | ${r.lostProbes} of ${r.sentProbes} | ${r.egressGapMs ?? '–'} | ${Object.entries(r.gapMs).map(([k, v]) => `${k} ${v}`).join(', ')} | ${Object.entries(r.tcp).map(([k, v]) => `${k} ${v}`).join(', ') || '–'} | ${r.eipConflicts.length} | ${r.violations.length ? '**FAIL**' : 'pass'} |`,
    '',
  ];
  if (r.violations.length) lines.push('## Violations', '', ...r.violations.map((v) => `- ${v}`), '');
  return lines.join('\n');
}
