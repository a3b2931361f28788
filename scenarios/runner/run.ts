import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { armFault, injectFault, type InjectedFault } from '../faults/inject.js';
import { watchGateways } from '../probes/gateway-watch.js';
import { readTcpResult, readUdpResult, startFlowProbes } from '../probes/traffic.js';
import { summariseRun, type RunReport, type TrialResult, type TrialTimeline } from '../report/model.js';
import { writeRunReport, writeTrialFiles } from '../report/writer.js';
import type { FailoverBackend } from '../model/failover-backend.js';
import { evaluateTrial, type TrialMeasurement } from './evaluate-trial.js';
import { faultLabel, type Profile, type Scenario, type ScenarioFault, type TrafficKind } from '../model/scenario.js';
import { sleep } from '../../host/index.js';

export type RunEvent =
  | { type: 'trial-start'; index: number; total: number; fault: string }
  | { type: 'trial-done'; index: number; total: number; result: TrialResult; svg: string | null }
  | { type: 'note'; message: string };

export interface RunOptions {
  profile: Profile;
  trialsPerFault: number;
  /** Where the report goes; null: keep files in the run directory only. */
  reportDir: string | null;
  /** Scratch directory for probe results. */
  workDir: string;
  onEvent?: (e: RunEvent) => void;
  /** Only these faults (labels); all when absent. */
  only?: readonly string[];
}

/**
 * One trial: traffic on, fault, traffic keeps running, measure, undo the fault. A trial that fails after its fault
 * was injected still undoes it: otherwise every later trial would run on a lab missing a gateway.
 */
export async function runTrial(b: FailoverBackend, s: Scenario, fault: ScenarioFault, index: number, o: RunOptions): Promise<{ result: TrialResult; timeline: TrialTimeline }> {
  const state: TrialFaultState = {};
  try {
    return await runTrialSteps(b, s, fault, index, o, state);
  } catch (e) {
    if (state.injected && !state.restored) {
      state.restored = true;
      await state.injected.restore().catch((r: unknown) => o.onEvent?.({ type: 'note', message: `trial ${index}: undoing the fault failed too: ${r instanceof Error ? r.message : String(r)}` }));
    }
    throw e;
  }
}

interface TrialFaultState {
  injected?: InjectedFault;
  restored?: boolean;
}

async function runTrialSteps(b: FailoverBackend, s: Scenario, fault: ScenarioFault, index: number, o: RunOptions, state: TrialFaultState): Promise<{ result: TrialResult; timeline: TrialTimeline }> {
  const kinds = s.traffic.kinds.filter((k): k is TrafficKind => b.flows[k] !== undefined);
  const duration = s.timing.beforeFaultMs + s.timing.afterFaultMs;
  const armed = await armFault(b, fault.kind, b.gateways);
  const watch = await watchGateways(b).catch((e: unknown) => {
    armed.abortAll();
    throw e;
  });
  const runs = kinds.map((k) => {
    const f = b.flows[k]!;
    return { kind: k, f, run: startFlowProbes(b.lab, b.clientPod, f.ip, { intervalMs: s.traffic.udpIntervalMs, durationMs: duration, tcp: s.traffic.tcpStream, dir: o.workDir, tag: `t${index}-${k}` }) };
  });
  let injected: InjectedFault;
  let startedAt: number;
  let active: string;
  try {
    // Node takes a while to start inside a namespace on a loaded machine: start sending only once every probe is up.
    await Promise.all(runs.map((r) => r.run.ready)).catch(async (e: unknown) => {
      for (const r of runs) r.run.abort();
      await watch.stop();
      throw e;
    });
    startedAt = Date.now();
    for (const r of runs) r.run.go();
    await sleep(s.timing.beforeFaultMs);
    // The gateway carrying the traffic right now is the one to hit (it may have changed while the probes started).
    active = watch.activeNow() ?? (await b.activeGateway()) ?? b.gateways[0]!;
    injected = await injectFault(b, fault.kind, active, armed);
    state.injected = injected;
    if (injected.nodeGone) watch.markGone(active, injected.at);
    // Evidence of the stamp's precision: an armed fault took effect between its stamp and its command's return.
    if (injected.appliedBy !== undefined && injected.appliedBy - injected.at > 20) {
      o.onEvent?.({ type: 'note', message: `trial ${index}: the ${fault.kind} command returned ${injected.appliedBy - injected.at} ms after the fault's stamp` });
    }
    await Promise.all(runs.map((r) => r.run.done));
  } finally {
    armed.abortAll();
    await Promise.all(runs.map((r) => r.run.done.catch(() => undefined)));
  }
  const { events, looks } = await watch.stop();
  const endedAt = Date.now();
  const m: TrialMeasurement = {
    index,
    fault: faultLabel(fault),
    faultKind: fault.kind,
    profile: o.profile,
    cluster: b.cluster,
    faultedGateway: active,
    standbyGateway: b.gateways.find((g) => g !== active) ?? null,
    gateways: [...b.gateways],
    // The timeline starts with the traffic (the watch runs longer: it must know the state before the first probe).
    startedAt: startedAt - 50,
    faultAt: injected.at,
    endedAt,
    flows: runs.map((r) => ({
      kind: r.kind,
      from: b.clientPod,
      expectedSource: r.f.expectedSource,
      udp: readUdpResult(r.run.udpFile),
      tcp: readTcpResult(r.run.tcpFile),
    })),
    events,
    fenceLooks: looks,
    initialEips: watch.initialEips,
  };
  const evaluated = evaluateTrial(m, s.assertions);
  // Put the lab back before the next trial: undo the fault, then let the candidates settle.
  state.restored = true;
  await injected.restore();
  await sleep(s.timing.settleMs);
  try {
    await b.waitSettled(30_000);
  } catch (e) {
    // A lab that does not settle is itself a finding: keep the trial, say so, and let the next trial show the state.
    evaluated.result.violations.push(`the gateways did not settle after the fault was undone: ${e instanceof Error ? e.message : String(e)}`);
  }
  return evaluated;
}

/** Runs every fault of a scenario `trialsPerFault` times on a running backend and writes the report. */
export async function runScenario(b: FailoverBackend, s: Scenario, o: RunOptions): Promise<RunReport> {
  const faults = s.faults.filter((f) => !o.only || o.only.includes(faultLabel(f)));
  if (faults.length === 0) throw new StraitError('SCENARIO_INVALID', `no fault of ${s.name} matches ${o.only?.join(', ')}`);
  mkdirSync(o.workDir, { recursive: true });
  const total = faults.length * o.trialsPerFault;
  const trials: TrialResult[] = [];
  const skipped: { index: number; fault: string; error: string }[] = [];
  const startedAt = new Date().toISOString();
  let index = 0;
  for (const fault of faults) {
    for (let i = 0; i < o.trialsPerFault; i++) {
      index++;
      o.onEvent?.({ type: 'trial-start', index, total, fault: faultLabel(fault) });
      let done: { result: TrialResult; timeline: TrialTimeline };
      try {
        done = await runTrial(b, s, fault, index, o);
      } catch (e) {
        // A trial that could not run (e.g. its probes never started) is reported and skipped, not fatal to the run.
        const error = e instanceof Error ? e.message : String(e);
        skipped.push({ index, fault: faultLabel(fault), error });
        o.onEvent?.({ type: 'note', message: `trial ${index} (${faultLabel(fault)}) could not run: ${error}` });
        await b.waitSettled(30_000).catch(() => undefined);
        continue;
      }
      const { result, timeline } = done;
      trials.push(result);
      const svg = writeTrialFiles(o.reportDir ?? join(o.workDir, 'report'), result, timeline);
      o.onEvent?.({ type: 'trial-done', index, total, result, svg });
    }
  }
  const report: RunReport = { scenario: s.name, profile: o.profile, runId: b.lab.runId, startedAt, trials, summary: summariseRun(trials), ...(skipped.length ? { skipped } : {}) };
  writeRunReport(o.reportDir ?? join(o.workDir, 'report'), report);
  return report;
}
