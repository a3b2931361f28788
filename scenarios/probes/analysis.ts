/**
 * Pure analysis of one trial: probe records, gateway events and the fault time in; outage, losses, takeover and
 * wrong source IPs out (egress-IP conflicts: fence-conflicts.ts). No I/O, so every rule is table-tested.
 */

/** One UDP probe: sent at `sentAt` (epoch ms), answered at `recvAt` (or never), `src` as the server saw it. */
export interface UdpRecord {
  seq: number;
  sentAt: number;
  recvAt: number | null;
  src: string | null;
}

export interface UdpProbeResult {
  target: string;
  intervalMs: number;
  startedAt: number;
  records: UdpRecord[];
}

export interface TcpProbeResult {
  target: string;
  startedAt: number;
  endedAt: number;
  connectedAt: number | null;
  brokeAt: number | null;
  error: string | null;
  sent: number;
  echoed: number;
  echoTimes: number[];
}

/**
 * What the lab saw gateways do, in time order: `route` says traffic of a cluster now leaves via `gateway`;
 * `eip-add`/`eip-del` say an egress IP appeared on / vanished from a gateway.
 */
export type GatewayEvent =
  | { at: number; kind: 'route'; cluster: string; gateway: string }
  | { at: number; kind: 'eip-add' | 'eip-del'; gateway: string; ip: string };

export interface FlowAnalysis {
  /**
   * Longest gap between good replies that overlaps the fault (sent time of the next good probe minus sent time of the
   * last good one before the gap); 0 when nothing was lost (and, with `countProberPauses`, the prober never paused).
   */
  outageMs: number;
  lost: number;
  sent: number;
  /** The last probes were answered again. */
  recovered: boolean;
  /** Source IPs the server saw that are not the expected one, with how many probes each. */
  wrongSourceIPs: { ip: string; count: number }[];
  /** Where the outage starts and ends (epoch ms), for the timeline; null when there was none. */
  outageFrom: number | null;
  outageTo: number | null;
}

/** Splits "ip:port" (IPv4, or [v6]:port) and returns the IP. */
export function sourceIp(src: string): string {
  if (src.startsWith('[')) return src.slice(1, src.indexOf(']'));
  const i = src.lastIndexOf(':');
  return i > 0 && src.indexOf(':') === i ? src.slice(0, i) : src;
}

/**
 * Analyses one UDP flow around a fault at `faultAt`. `expectedSource` is the IP the server must see.
 *
 * `countProberPauses`: a gap between two answered probes also counts when nothing was lost between them but the
 * prober itself sent nothing for more than two intervals. A prober that did not send cannot vouch for the path, so
 * a fault trial counts the pause as outage (an upper bound). Why: the probes run below the agents (RR 9 against 10,
 * traffic.ts), and in a quiet run at RR 9 the prober paused 25-108 ms after most faults while the takeover ran; an
 * outage inside such a pause would have read 0. A `steady` run leaves it off: a host stop of the prober's CPU is no
 * gap in the datapath.
 */
export function analyseUdp(r: UdpProbeResult, faultAt: number, expectedSource: string | null, o: { countProberPauses?: boolean } = {}): FlowAnalysis {
  const recs = [...r.records].sort((a, b) => a.seq - b.seq);
  const good = recs.filter((x) => x.recvAt !== null);
  const lost = recs.length - good.length;
  let outageMs = 0;
  let outageFrom: number | null = null;
  let outageTo: number | null = null;
  // Only gaps that end after the fault count: a hiccup in the baseline before it is not the failover.
  for (let i = 1; i < good.length; i++) {
    const a = good[i - 1]!;
    const b = good[i]!;
    const gap = b.sentAt - a.sentAt;
    const lostBetween = b.seq - a.seq > 1;
    const proberPaused = o.countProberPauses === true && gap > 2 * r.intervalMs;
    if ((!lostBetween && !proberPaused) || b.sentAt < faultAt - r.intervalMs) continue;
    if (gap > outageMs) {
      outageMs = gap;
      outageFrom = a.sentAt;
      outageTo = b.sentAt;
    }
  }
  // Traffic that never came back: the outage runs to the end of the trial (a lower bound) and recovery fails.
  const last = recs[recs.length - 1];
  const lastGood = good[good.length - 1];
  const tailLost = last !== undefined && (lastGood === undefined || lastGood.seq < last.seq - 2);
  if (tailLost && last) {
    const from = lastGood && lastGood.sentAt >= faultAt - 10 * r.intervalMs ? lastGood.sentAt : Math.max(faultAt, lastGood?.sentAt ?? faultAt);
    const gap = last.sentAt - from;
    if (gap >= outageMs) {
      outageMs = gap;
      outageFrom = from;
      outageTo = last.sentAt;
    }
  }
  const recovered = !tailLost && good.some((g) => g.sentAt > faultAt);
  const wrong = new Map<string, number>();
  if (expectedSource !== null) {
    for (const g of good) {
      const ip = sourceIp(g.src ?? '');
      if (ip !== expectedSource) wrong.set(ip, (wrong.get(ip) ?? 0) + 1);
    }
  }
  return {
    outageMs: Math.round(outageMs * 10) / 10,
    lost,
    sent: recs.length,
    recovered,
    wrongSourceIPs: [...wrong].map(([ip, count]) => ({ ip, count })).sort((a, b) => b.count - a.count),
    outageFrom,
    outageTo,
  };
}

export interface TcpAnalysis {
  /** The connection stayed open and carried data sent after the fault. */
  survived: boolean;
  brokeAt: number | null;
  error: string | null;
  /** Longest pause in echoes after the fault (ms). */
  stallMs: number;
}

export function analyseTcp(r: TcpProbeResult, faultAt: number): TcpAnalysis {
  const times = [...r.echoTimes].sort((a, b) => a - b);
  let stall = 0;
  let prev = times.filter((t) => t <= faultAt).pop() ?? faultAt;
  for (const t of times.filter((t) => t > faultAt)) {
    stall = Math.max(stall, t - prev);
    prev = t;
  }
  const end = r.brokeAt ?? r.endedAt;
  if (r.brokeAt !== null || !times.some((t) => t > faultAt)) stall = Math.max(stall, end - prev);
  const survived = r.connectedAt !== null && r.brokeAt === null && times.some((t) => t > faultAt + 1);
  return { survived, brokeAt: r.brokeAt, error: r.error, stallMs: Math.round(stall) };
}

/** The gateway a cluster's traffic used at time `t` (the latest route event at or before `t`). */
export function gatewayAt(events: readonly GatewayEvent[], cluster: string, t: number): string | null {
  let gw: string | null = null;
  for (const e of events) {
    if (e.at > t) break;
    if (e.kind === 'route' && e.cluster === cluster) gw = e.gateway;
  }
  return gw;
}

/** Sorted copy: every consumer walks events in time order. */
export function sortEvents(events: readonly GatewayEvent[]): GatewayEvent[] {
  return [...events].sort((a, b) => a.at - b.at);
}

/** Nearest-rank percentile of a non-empty list (p in 0..100); null for an empty list. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1]!;
}
