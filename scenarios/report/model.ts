import type { StressRecord } from '../runner/stress.js';
import type { FlowAnalysis, GatewayEvent, TcpAnalysis, UdpRecord } from '../probes/analysis.js';
import type { EipConflict, FenceLookRecord } from '../probes/fence-conflicts.js';
import { percentile } from '../probes/analysis.js';
import type { FaultKind, Profile, TrafficKind } from '../model/scenario.js';

/** One traffic flow of a trial: what ran, what the server had to see, and what the analysis found. */
export interface FlowResult {
  kind: TrafficKind;
  /** The client pod and the target `ip:port`. */
  from: string;
  target: string;
  /** The source IP the server must see (the egress IP, or the client pod's own IP). */
  expectedSource: string | null;
  udp: FlowAnalysis;
  tcp: TcpAnalysis | null;
}

/** One trial: one fault injected once, with every flow measured around it. */
export interface TrialResult {
  index: number;
  /** Fault label (the kind unless the scenario names it). */
  fault: string;
  faultKind: FaultKind;
  profile: Profile;
  /** The gateway the fault hit, and the one expected to take over. */
  faultedGateway: string;
  expectedGateway: string | null;
  /** Which gateway carried the faulted cluster's traffic at the end of the trial. */
  takeoverGateway: string | null;
  startedAt: number;
  faultAt: number;
  endedAt: number;
  /** The worst flow's outage (ms). */
  outageMs: number;
  /** Probes lost over every flow. */
  lost: number;
  recovered: boolean;
  eipConflict: boolean;
  /** Instants at which an egress IP was certainly live on two gateways' fences, each with its evidence. */
  eipConflicts: EipConflict[];
  /** Distinct wrong source IPs the servers saw. */
  wrongSourceIPs: string[];
  flows: FlowResult[];
  /** Assertions this trial broke, in words; empty when it passed. */
  violations: string[];
  /**
   * Host stalls (host-stalls.ts) from the agents' stall memory before the fault to the end of the trial, times
   * relative to the fault: what widened the agents' margins. Absent when the run had no stall watch.
   */
  hostStalls?: TrialHostStall[];
}

/** A CPU of the host that did not run for `ms`, as a pinned realtime watcher saw it (scenarios/runner/host-stalls.ts). */
export interface HostStall {
  cpu: number;
  /** Epoch ms at which the CPU stopped. */
  at: number;
  ms: number;
}

export interface TrialHostStall {
  cpu: number;
  /** ms relative to the fault (negative: before it). */
  atMs: number;
  ms: number;
}

/** What the run's stall watch saw, and what counted. */
export interface HostStallRecord {
  /** CPUs watched (one pinned watcher each). */
  cpus: number;
  /** Wake-ups later than this were recorded. */
  minMs: number;
  /** Stalls at least this long count in trials and summaries. */
  countMs: number;
  /** A stall this long before a fault can still widen the agents' margins at the fault (their stall memory). */
  memoryMs: number;
  startedAt: number;
  stoppedAt: number;
  stalls: HostStall[];
  /** Why there is no watch (e.g. taskset or realtime priority not available); the run went on without it. */
  unavailable?: string;
}

/** The raw material of a trial's timeline, kept apart from the result so `--json` stays small. */
export interface TrialTimeline {
  flows: { kind: TrafficKind; cluster: string; records: UdpRecord[]; tcpEchoTimes: number[]; tcpBrokeAt: number | null }[];
  events: GatewayEvent[];
  /** Where each egress IP was live when the watch started (before the first event). */
  initialEips: { gateway: string; ip: string }[];
  /** Every raw look at the gateways' fence sets (same clock as the probes and the fault). */
  fenceLooks: FenceLookRecord[];
  /** Gateways of the faulted cluster in priority order (fixes colours across trials). */
  gateways: string[];
}

export interface OutageSummary {
  trials: number;
  p50OutageMs: number | null;
  p95OutageMs: number | null;
  p99OutageMs: number | null;
  maxOutageMs: number | null;
  lost: number;
  /** Trials in which an egress IP was on two gateways at once. */
  eipConflicts: number;
  /** Trials in which a server saw a wrong source IP. */
  wrongSourceIPs: number;
  /** Trials that broke an assertion. */
  failed: number;
}

export interface RunSummary extends OutageSummary {
  byFault: Record<string, OutageSummary>;
  /**
   * The trials with no host stall (≥ `HostStallRecord.countMs`) within the agents' stall memory before their fault
   * or during them: what the failover costs where the host kept running. Absent without a stall watch.
   */
  hostStallFree?: OutageSummary;
}

export function summarise(trials: readonly TrialResult[]): OutageSummary {
  const o = trials.map((t) => t.outageMs);
  return {
    trials: trials.length,
    p50OutageMs: percentile(o, 50),
    p95OutageMs: percentile(o, 95),
    p99OutageMs: percentile(o, 99),
    maxOutageMs: o.length ? Math.max(...o) : null,
    lost: trials.reduce((s, t) => s + t.lost, 0),
    eipConflicts: trials.filter((t) => t.eipConflict).length,
    wrongSourceIPs: trials.filter((t) => t.wrongSourceIPs.length > 0).length,
    failed: trials.filter((t) => t.violations.length > 0).length,
  };
}

export function summariseRun(trials: readonly TrialResult[]): RunSummary {
  const byFault: Record<string, OutageSummary> = {};
  for (const f of [...new Set(trials.map((t) => t.fault))]) byFault[f] = summarise(trials.filter((t) => t.fault === f));
  return { ...summarise(trials), byFault };
}

export interface RunReport {
  scenario: string;
  profile: Profile;
  runId: string;
  startedAt: string;
  trials: TrialResult[];
  summary: RunSummary;
  /** Trials that could not run at all (not in `trials` or the summary): index, fault and why. */
  skipped?: { index: number; fault: string; error: string }[];
  /** `--stress`: the stress-ng run beside the whole scenario. */
  stress?: StressRecord;
  /** The host stall watch beside the whole run (scenarios/runner/host-stalls.ts). */
  hostStalls?: HostStallRecord;
}
