import type { GatewayEvent, TcpProbeResult, UdpProbeResult, UdpRecord } from './analysis.js';
import type { FenceLookRecord } from './fence-conflicts.js';

/**
 * Synthetic probe data for tests and docs: a flow probed every `intervalMs` from `start`, where probes sent in
 * [lossFrom, lossTo) go unanswered. Pure.
 */
export function syntheticUdp(opts: {
  start: number;
  durationMs: number;
  intervalMs?: number;
  lossFrom?: number;
  lossTo?: number;
  src?: string | ((sentAt: number) => string);
  rttMs?: number;
}): UdpProbeResult {
  const iv = opts.intervalMs ?? 10;
  const records: UdpRecord[] = [];
  for (let seq = 0; seq * iv < opts.durationMs; seq++) {
    const sentAt = opts.start + seq * iv;
    const lost = opts.lossFrom !== undefined && sentAt >= opts.lossFrom && sentAt < (opts.lossTo ?? Infinity);
    const src = typeof opts.src === 'function' ? opts.src(sentAt) : (opts.src ?? '10.11.1.2:40000');
    records.push({ seq, sentAt, recvAt: lost ? null : sentAt + (opts.rttMs ?? 0.4), src: lost ? null : src });
  }
  return { target: '172.31.0.100:9000', intervalMs: iv, startedAt: opts.start, records };
}

export function syntheticTcp(opts: { start: number; durationMs: number; pauseFrom?: number; pauseTo?: number; brokeAt?: number }): TcpProbeResult {
  const echoTimes: number[] = [];
  for (let t = opts.start; t < opts.start + opts.durationMs; t += 50) {
    if (opts.brokeAt !== undefined && t >= opts.brokeAt) break;
    if (opts.pauseFrom !== undefined && t >= opts.pauseFrom && t < (opts.pauseTo ?? Infinity)) continue;
    echoTimes.push(t);
  }
  return {
    target: '10.21.1.2:9001',
    startedAt: opts.start,
    endedAt: opts.start + opts.durationMs,
    connectedAt: opts.start,
    brokeAt: opts.brokeAt ?? null,
    error: opts.brokeAt !== undefined ? 'read ECONNRESET' : null,
    sent: echoTimes.length,
    echoed: echoTimes.length,
    echoTimes,
  };
}

/** A clean failover: c1-gw1 active, routes and the egress IP move to c1-gw2 at `at`. */
export function failoverEvents(start: number, at: number, eip = '172.31.0.200'): GatewayEvent[] {
  return [
    { at: start, kind: 'route', cluster: 'c1', gateway: 'c1-gw1' },
    { at, kind: 'route', cluster: 'c1', gateway: 'c1-gw2' },
    { at: at - 5, kind: 'eip-del', gateway: 'c1-gw1', ip: eip },
    { at: at + 2, kind: 'eip-add', gateway: 'c1-gw2', ip: eip },
  ];
}

/** Fence looks every `everyMs` (each 1 ms long) at each gateway from `start` for `durationMs`; `live` says what each look saw. */
export function syntheticFenceLooks(opts: {
  start: number;
  durationMs: number;
  gateways: readonly string[];
  live: (gateway: string, at: number) => boolean;
  everyMs?: number;
  eip?: string;
}): FenceLookRecord[] {
  const out: FenceLookRecord[] = [];
  for (let t = opts.start; t < opts.start + opts.durationMs; t += opts.everyMs ?? 10) {
    for (const gateway of opts.gateways) {
      out.push({ gateway, before: t, after: t + 1, elements: opts.live(gateway, t) ? [{ ip: opts.eip ?? '172.31.0.200', expiresMs: 40 }] : [] });
    }
  }
  return out;
}
