import type { GatewayEvent, TcpProbeResult, UdpProbeResult } from '../probes/analysis.js';
import { analyseTcp, analyseUdp, gatewayAt, sortEvents } from '../probes/analysis.js';
import { fenceConflicts, type FenceLookRecord } from '../probes/fence-conflicts.js';
import type { FlowResult, TrialResult, TrialTimeline } from '../report/model.js';
import type { FaultKind, Profile, ScenarioAssertions, TrafficKind } from '../model/scenario.js';
import { outageLimitMs } from '../model/scenario.js';

/** Everything one trial measured, before judging it. */
export interface TrialMeasurement {
  index: number;
  fault: string;
  faultKind: FaultKind;
  profile: Profile;
  cluster: string;
  faultedGateway: string;
  /** The standby of the faulted cluster (the gateway that should take over). */
  standbyGateway: string | null;
  gateways: string[];
  startedAt: number;
  faultAt: number;
  endedAt: number;
  flows: {
    kind: TrafficKind;
    from: string;
    expectedSource: string | null;
    udp: UdpProbeResult;
    tcp: TcpProbeResult | null;
  }[];
  events: GatewayEvent[];
  /** Every look at the gateways' fence sets, as read (the evidence for and against an egress-IP conflict). */
  fenceLooks: FenceLookRecord[];
  /** Where each egress IP was when sampling started. */
  initialEips: { gateway: string; ip: string }[];
}

/** Analyses a trial and checks it against the scenario's assertions. Pure. */
/** Less traffic than this after the fault cannot show a failover (detection alone takes up to the ceiling). */
export const MIN_TRAFFIC_AFTER_FAULT_MS = 1000;

export function evaluateTrial(m: TrialMeasurement, a: ScenarioAssertions): { result: TrialResult; timeline: TrialTimeline } {
  const events = sortEvents(m.events);
  const flows: FlowResult[] = m.flows.map((f) => ({
    kind: f.kind,
    from: f.from,
    target: f.udp.target,
    expectedSource: f.expectedSource,
    udp: analyseUdp(f.udp, m.faultAt, f.expectedSource, { countProberPauses: true }),
    tcp: f.tcp ? analyseTcp(f.tcp, m.faultAt) : null,
  }));
  const conflicts = fenceConflicts(m.fenceLooks, m.faultAt);
  const takeover = gatewayAt(events, m.cluster, m.endedAt);
  const wrong = [...new Set(flows.flatMap((f) => f.udp.wrongSourceIPs.map((w) => w.ip)))];
  const outageMs = Math.max(0, ...flows.map((f) => f.udp.outageMs));
  const v: string[] = [];
  // A fault that landed (almost) after the traffic ended measured nothing: say so, instead of an outage of 0 ms,
  // "did not recover" and "TCP broke" that read like a failover's failures (seen under stress before the runner ran
  // at realtime priority: faults at +1.7 to +5.4 s of a 3.3 s window).
  const lastSent = Math.max(Number.NEGATIVE_INFINITY, ...m.flows.flatMap((f) => f.udp.records.map((r) => r.sentAt)));
  if (m.flows.length && lastSent - m.faultAt < MIN_TRAFFIC_AFTER_FAULT_MS) {
    v.push(
      `not measured: the fault came ${Math.round(m.faultAt - m.startedAt)} ms after the traffic began and only ` +
        `${Math.max(0, Math.round(lastSent - m.faultAt))} ms of traffic followed it (the runner was not scheduled in time)`,
    );
  }
  if (a.recovers) {
    for (const f of flows) if (!f.udp.recovered) v.push(`${f.kind} traffic did not recover within the trial`);
  }
  const limit = outageLimitMs(a, m.profile);
  for (const f of flows) {
    if (f.udp.recovered && f.udp.outageMs > limit) v.push(`${f.kind} outage ${f.udp.outageMs} ms exceeds ${limit} ms`);
  }
  if (a.takeover === 'standby' && m.standbyGateway !== null && takeover !== m.standbyGateway) {
    v.push(`expected ${m.standbyGateway} to take over, traffic ended on ${takeover ?? 'no gateway'}`);
  }
  if (a.takeover === 'any' && (takeover === null || takeover === m.faultedGateway)) {
    v.push(`no other gateway took over from ${m.faultedGateway}`);
  }
  if (a.takeover === 'none') {
    // Nothing may change: the routes stay on the faulted gateway and it never drops an egress IP.
    const moved = events.filter((e) => e.at >= m.faultAt && ((e.kind === 'route' && e.cluster === m.cluster && e.gateway !== m.faultedGateway) || (e.kind === 'eip-del' && e.gateway === m.faultedGateway)));
    if (takeover !== m.faultedGateway) v.push(`expected ${m.faultedGateway} to keep the traffic, it ended on ${takeover ?? 'no gateway'}`);
    if (moved.length) v.push(`role changed after the fault: ${moved.map((e) => (e.kind === 'route' ? `route to ${e.gateway}` : `${e.ip} left ${e.gateway}`)).join(', ')}`);
  }
  if (a.noEipConflict) {
    for (const c of conflicts) v.push(`egress IP ${c.ip} was live on ${c.gateways.join(' and ')} for ${Math.round(c.durationMs)} ms: ${c.explanation}`);
  }
  if (a.sourceIp) {
    for (const f of flows) {
      for (const w of f.udp.wrongSourceIPs) v.push(`${f.kind}: server saw source ${w.ip} (${w.count} probes), expected ${f.expectedSource}`);
    }
  }
  for (const kind of a.tcpSurvives) {
    const f = flows.find((x) => x.kind === kind);
    if (f?.tcp && !f.tcp.survived) v.push(`${kind} TCP stream broke (${f.tcp.error ?? 'no data after the fault'})`);
  }
  const result: TrialResult = {
    index: m.index,
    fault: m.fault,
    faultKind: m.faultKind,
    profile: m.profile,
    faultedGateway: m.faultedGateway,
    expectedGateway: m.standbyGateway,
    takeoverGateway: takeover,
    startedAt: m.startedAt,
    faultAt: m.faultAt,
    endedAt: m.endedAt,
    outageMs,
    lost: flows.reduce((s, f) => s + f.udp.lost, 0),
    recovered: flows.every((f) => f.udp.recovered),
    eipConflict: conflicts.length > 0,
    eipConflicts: conflicts,
    wrongSourceIPs: wrong,
    flows,
    violations: v,
  };
  const timeline: TrialTimeline = {
    flows: m.flows.map((f) => ({
      kind: f.kind,
      cluster: m.cluster,
      records: f.udp.records,
      tcpEchoTimes: f.tcp?.echoTimes ?? [],
      tcpBrokeAt: f.tcp?.brokeAt ?? null,
    })),
    events,
    initialEips: m.initialEips.map((e) => ({ gateway: e.gateway, ip: e.ip })),
    fenceLooks: m.fenceLooks,
    gateways: m.gateways,
  };
  return { result, timeline };
}
