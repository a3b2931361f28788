import type { GatewayEvent, TcpProbeResult, UdpProbeResult } from '../probes/analysis.js';
import { analyseTcp, analyseUdp, sortEvents } from '../probes/analysis.js';
import { fenceConflicts, liveSpans, type EipConflict, type FenceLookRecord } from '../probes/fence-conflicts.js';
import type { Profile, TrafficKind } from '../model/scenario.js';

/** Everything one steady run measured, before judging it. */
export interface SteadyMeasurement {
  profile: Profile;
  cluster: string;
  startedAt: number;
  endedAt: number;
  flows: { kind: TrafficKind; expectedSource: string | null; udp: UdpProbeResult; tcp: TcpProbeResult | null }[];
  /** Route events on the client node (which gateway carried the cluster's traffic). */
  events: GatewayEvent[];
  fenceLooks: FenceLookRecord[];
}

export interface SteadyResult {
  profile: Profile;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  /** Route moves plus egress-IP moves: a healthy pair changes no role without a fault. */
  roleChanges: number;
  routeMoves: { at: number; from: string; to: string }[];
  eipMoves: { at: number; ip: string; from: string; to: string }[];
  lostProbes: number;
  sentProbes: number;
  /** The longest gap between answered egress probes (0: none lost); null without egress traffic. */
  egressGapMs: number | null;
  /** The same per traffic kind. */
  gapMs: Partial<Record<TrafficKind, number>>;
  tcp: Partial<Record<TrafficKind, 'survived' | 'broke'>>;
  eipConflicts: EipConflict[];
  wrongSourceIPs: string[];
  violations: string[];
}

/**
 * Judges a run without a fault. A violation is what must not happen on a healthy lab at all: a role change (route
 * or egress-IP move), an egress IP live on two gateways, a wrong source IP, a flow that stops being answered, a
 * TCP stream that breaks. Lost probes and gaps are measured, not judged: how much a loaded host may lose is the
 * reader's call (issue #12 goal: none at all under `--stress cpu=8`). Pure.
 */
export function evaluateSteady(m: SteadyMeasurement): SteadyResult {
  const routeMoves: SteadyResult['routeMoves'] = [];
  let cur: string | null = null;
  for (const e of sortEvents(m.events)) {
    if (e.kind !== 'route' || e.cluster !== m.cluster) continue;
    if (cur !== null && e.gateway !== cur) routeMoves.push({ at: e.at, from: cur, to: e.gateway });
    cur = e.gateway;
  }
  // An egress IP moves when the next run of sightings is on another gateway (a break on the same gateway, e.g.
  // an unreadable look, is no move).
  const eipMoves: SteadyResult['eipMoves'] = [];
  const holder = new Map<string, string>();
  for (const s of liveSpans(m.fenceLooks)) {
    const prev = holder.get(s.ip);
    if (prev !== undefined && prev !== s.gateway) eipMoves.push({ at: s.first.after, ip: s.ip, from: prev, to: s.gateway });
    holder.set(s.ip, s.gateway);
  }
  const gapMs: SteadyResult['gapMs'] = {};
  const tcp: SteadyResult['tcp'] = {};
  const wrong = new Set<string>();
  const v: string[] = [];
  let lost = 0;
  let sent = 0;
  for (const f of m.flows) {
    const start = f.udp.records[0]?.sentAt ?? m.startedAt;
    const answered = f.udp.records.some((r) => r.recvAt !== null);
    const a = analyseUdp(f.udp, start, f.expectedSource);
    gapMs[f.kind] = answered ? a.outageMs : m.endedAt - m.startedAt;
    lost += a.lost;
    sent += a.sent;
    if (!answered || !a.recovered) v.push(`${f.kind} traffic ${answered ? 'stopped being answered' : 'was never answered'}`);
    for (const w of a.wrongSourceIPs) {
      wrong.add(w.ip);
      v.push(`${f.kind}: server saw source ${w.ip} (${w.count} probes), expected ${f.expectedSource}`);
    }
    if (f.tcp) {
      const t = analyseTcp(f.tcp, start);
      tcp[f.kind] = t.survived ? 'survived' : 'broke';
      if (!t.survived) v.push(`${f.kind} TCP stream broke (${t.error ?? 'no data'})`);
    }
  }
  for (const r of routeMoves) v.push(`traffic of ${m.cluster} moved from ${r.from} to ${r.to} at startedAt+${Math.round(r.at - m.startedAt)} ms`);
  for (const e of eipMoves) v.push(`egress IP ${e.ip} moved from ${e.from} to ${e.to} at startedAt+${Math.round(e.at - m.startedAt)} ms`);
  const eipConflicts = fenceConflicts(m.fenceLooks, m.startedAt, 'start');
  for (const c of eipConflicts) v.push(`egress IP ${c.ip} was live on ${c.gateways.join(' and ')} for ${Math.round(c.durationMs)} ms: ${c.explanation}`);
  return {
    profile: m.profile,
    startedAt: m.startedAt,
    endedAt: m.endedAt,
    durationMs: m.endedAt - m.startedAt,
    roleChanges: routeMoves.length + eipMoves.length,
    routeMoves,
    eipMoves,
    lostProbes: lost,
    sentProbes: sent,
    egressGapMs: gapMs.egress ?? null,
    gapMs,
    tcp,
    eipConflicts,
    wrongSourceIPs: [...wrong],
    violations: v,
  };
}
