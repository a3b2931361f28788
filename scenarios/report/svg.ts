import { gatewayAt } from '../probes/analysis.js';
import type { TrialResult, TrialTimeline } from './model.js';

/**
 * One trial as an SVG timeline a person reads at a glance: time runs left to right around the fault (dashed
 * line at 0), each flow gets a lane of probe ticks coloured by the gateway that carried them, lost probes are red,
 * the outage is shaded with its length written on it, and bands on top show which gateway was active and where
 * the egress IP lived (red when it lived on two at once). Pure string building.
 */

const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const LOST = '#d62728';
const UNKNOWN = '#8a8a8a';
const W = 960;
const LEFT = 150;
const RIGHT = 44;
const LANE = 34;

const FAULT_TEXT: Record<string, string> = {
  'gateway-sigkill': 'SIGKILL of the gateway agent',
  'gateway-sigstop': 'SIGSTOP (hung gateway agent)',
  'link-down': 'underlay link down',
  'node-death': 'gateway node deleted',
  partition: 'nftables partition',
  'broker-restart': 'broker restart during failover',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** Colour of each gateway, stable across trials because `gateways` is in priority order. */
export function gatewayColours(gateways: readonly string[]): Record<string, string> {
  const c: Record<string, string> = {};
  gateways.forEach((g, i) => (c[g] = PALETTE[i % PALETTE.length]!));
  return c;
}

export function renderTrialSvg(t: TrialResult, tl: TrialTimeline): string {
  const colours = gatewayColours(tl.gateways);
  const colour = (g: string | null): string => (g !== null ? (colours[g] ?? UNKNOWN) : UNKNOWN);
  const t0 = t.startedAt;
  const t1 = Math.max(t.endedAt, t0 + 1);
  const x = (at: number): number => LEFT + ((Math.min(Math.max(at, t0), t1) - t0) / (t1 - t0)) * (W - LEFT - RIGHT);
  const parts: string[] = [];
  const eips = [...new Set([...tl.initialEips.map((e) => e.ip), ...tl.events.flatMap((e) => (e.kind === 'route' ? [] : [e.ip]))])];
  const cluster = tl.flows[0]?.cluster ?? '';

  // --- header
  const ok = t.violations.length === 0;
  parts.push(`<text x="16" y="26" font-size="16" font-weight="bold">Trial ${t.index} · ${esc(FAULT_TEXT[t.faultKind] ?? t.fault)} on ${esc(t.faultedGateway)} · profile ${t.profile}</text>`);
  const facts: [string, boolean][] = [
    [`outage ${fmt(t.outageMs)} ms`, t.recovered],
    [`${t.lost} probes lost`, true],
    [`takeover ${t.takeoverGateway ?? 'none'}${t.expectedGateway ? (t.takeoverGateway === t.expectedGateway ? ' (as expected)' : ` (expected ${t.expectedGateway})`) : ''}`, t.expectedGateway === null || t.takeoverGateway === t.expectedGateway],
    [t.eipConflict ? `egress IP on two gateways (${t.eipConflicts.length}×)` : 'no egress IP conflict', !t.eipConflict],
    [t.wrongSourceIPs.length ? `wrong source IP ${t.wrongSourceIPs.join(', ')}` : 'source IPs correct', t.wrongSourceIPs.length === 0],
  ];
  let fx = 16;
  for (const [text, good] of facts) {
    parts.push(`<text x="${fx}" y="48" font-size="13" fill="${good ? '#333' : LOST}"${good ? '' : ' font-weight="bold"'}>${esc(text)}</text>`);
    fx += text.length * 7.1 + 18;
  }
  parts.push(`<text x="${W - RIGHT}" y="26" font-size="14" text-anchor="end" font-weight="bold" fill="${ok ? '#2ca02c' : LOST}">${ok ? 'PASS' : 'FAIL'}</text>`);

  let y = 70;
  const laneLabel = (label: string, yy: number): void => {
    parts.push(`<text x="${LEFT - 8}" y="${yy + LANE / 2 + 4}" font-size="12" text-anchor="end">${esc(label)}</text>`);
  };
  const plotTop = y;

  // --- band: which gateway the client node routes through
  laneLabel(`active gateway (${cluster})`, y);
  const routes = tl.events.filter((e) => e.kind === 'route' && e.cluster === cluster);
  const cuts = [t0, ...routes.map((e) => e.at).filter((a) => a > t0 && a < t1), t1];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const a = cuts[i]!;
    const b = cuts[i + 1]!;
    const g = gatewayAt(tl.events, cluster, a + 0.001);
    if (g === null) continue;
    parts.push(`<rect x="${x(a)}" y="${y + 8}" width="${Math.max(0.5, x(b) - x(a))}" height="${LANE - 16}" fill="${colour(g)}" opacity="0.85"/>`);
    if (x(b) - x(a) > 60) parts.push(`<text x="${x(a) + 4}" y="${y + LANE / 2 + 4}" font-size="11" fill="#fff">${esc(g)}</text>`);
  }
  y += LANE;

  // --- bands: where each egress IP is configured
  for (const ip of eips) {
    laneLabel(`egress IP ${ip}`, y);
    const gws = tl.gateways;
    const rowH = (LANE - 8) / Math.max(1, gws.length);
    gws.forEach((g, gi) => {
      let since: number | null = null;
      const evs = tl.events.filter((e) => e.kind !== 'route' && e.ip === ip && e.gateway === g);
      if (tl.initialEips.some((e) => e.gateway === g && e.ip === ip)) since = t0;
      const yy = y + 4 + gi * rowH;
      const bar = (a: number, b: number): void => {
        parts.push(`<rect x="${x(a)}" y="${yy}" width="${Math.max(1, x(b) - x(a))}" height="${rowH - 2}" fill="${colour(g)}" opacity="0.6"/>`);
      };
      for (const e of evs) {
        if (e.kind === 'eip-add' && since === null) since = Math.max(e.at, t0);
        if (e.kind === 'eip-del' && since !== null) {
          if (e.at > t0) bar(since, e.at);
          since = null;
        }
      }
      if (since !== null) bar(since, t1);
    });
    for (const c of t.eipConflicts.filter((c) => c.ip === ip)) {
      parts.push(`<rect x="${x(c.from)}" y="${y + 2}" width="${Math.max(2, x(c.to) - x(c.from))}" height="${LANE - 4}" fill="none" stroke="${LOST}" stroke-width="2"/>`);
    }
    y += LANE;
  }

  // --- flow lanes
  for (const [fi, f] of tl.flows.entries()) {
    const res = t.flows[fi];
    laneLabel(`UDP ${f.kind}`, y);
    parts.push(`<rect x="${LEFT}" y="${y + 2}" width="${W - LEFT - RIGHT}" height="${LANE - 4}" fill="#f6f6f6"/>`);
    if (res && res.udp.outageFrom !== null && res.udp.outageTo !== null) {
      const ox = x(res.udp.outageFrom);
      const ow = Math.max(2, x(res.udp.outageTo) - ox);
      parts.push(`<rect x="${ox}" y="${y + 2}" width="${ow}" height="${LANE - 4}" fill="${LOST}" opacity="0.15"/>`);
      parts.push(`<text x="${ox + ow + 4}" y="${y + 13}" font-size="12" font-weight="bold" fill="${LOST}" stroke="#fff" stroke-width="3" paint-order="stroke">${fmt(res.udp.outageMs)} ms${res.udp.recovered ? '' : ' (no recovery)'}</text>`);
    }
    for (const r of f.records) {
      const rx = x(r.sentAt).toFixed(1);
      if (r.recvAt === null) parts.push(`<line x1="${rx}" x2="${rx}" y1="${y + LANE / 2}" y2="${y + LANE - 4}" stroke="${LOST}" stroke-width="1"/>`);
      else parts.push(`<line x1="${rx}" x2="${rx}" y1="${y + 6}" y2="${y + LANE / 2}" stroke="${colour(gatewayAt(tl.events, f.cluster, r.sentAt))}" stroke-width="1"/>`);
    }
    y += LANE;
    if (f.tcpEchoTimes.length > 0 || f.tcpBrokeAt !== null) {
      laneLabel(`TCP ${f.kind}`, y);
      parts.push(`<rect x="${LEFT}" y="${y + 2}" width="${W - LEFT - RIGHT}" height="${LANE - 4}" fill="#f6f6f6"/>`);
      const ts = f.tcpEchoTimes;
      for (let i = 0; i + 1 < ts.length; i++) {
        const a = ts[i]!;
        const b = ts[i + 1]!;
        // a pause longer than 120 ms leaves a visible hole: that is the stall
        if (b - a <= 120) parts.push(`<line x1="${x(a)}" x2="${x(b)}" y1="${y + LANE / 2}" y2="${y + LANE / 2}" stroke="#555" stroke-width="4"/>`);
      }
      if (f.tcpBrokeAt !== null) {
        const bx = x(f.tcpBrokeAt);
        parts.push(`<path d="M${bx - 6},${y + 9} l12,12 M${bx + 6},${y + 9} l-12,12" stroke="${LOST}" stroke-width="3"/>`);
        parts.push(`<text x="${bx + 10}" y="${y + LANE / 2 + 4}" font-size="11" fill="${LOST}">connection broke</text>`);
      } else if (res?.tcp) {
        parts.push(`<text x="${W - RIGHT - 4}" y="${y + 13}" font-size="11" text-anchor="end" stroke="#fff" stroke-width="3" paint-order="stroke" fill="${res.tcp.survived ? '#2ca02c' : LOST}">${res.tcp.survived ? `survived, stalled ${res.tcp.stallMs} ms` : 'no data after the fault'}</text>`);
      }
      y += LANE;
    }
  }
  const plotBottom = y;

  // --- fault marker and time axis (ms relative to the fault)
  const fxp = x(t.faultAt);
  parts.push(`<line x1="${fxp}" x2="${fxp}" y1="${plotTop - 4}" y2="${plotBottom + 4}" stroke="#000" stroke-width="1.5" stroke-dasharray="5,3"/>`);
  parts.push(`<text x="${fxp}" y="${plotTop - 7}" font-size="11" text-anchor="middle" font-weight="bold">fault</text>`);
  const span = t1 - t0;
  const step = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000].find((st) => span / st <= 12) ?? 120_000;
  parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${plotBottom + 6}" y2="${plotBottom + 6}" stroke="#999"/>`);
  for (let ms = Math.ceil((t0 - t.faultAt) / step) * step; t.faultAt + ms <= t1; ms += step) {
    const tx = x(t.faultAt + ms);
    parts.push(`<line x1="${tx}" x2="${tx}" y1="${plotBottom + 6}" y2="${plotBottom + 11}" stroke="#999"/>`);
    parts.push(`<text x="${tx}" y="${plotBottom + 24}" font-size="11" text-anchor="middle" fill="#555">${ms > 0 ? '+' : ''}${ms} ms</text>`);
  }
  y = plotBottom + 44;

  // --- legend
  let lx = LEFT;
  const legend = (swatch: string, label: string): void => {
    parts.push(`${swatch.replace(/\{x\}/g, String(lx)).replace(/\{y\}/g, String(y - 10))}<text x="${lx + 18}" y="${y}" font-size="12">${esc(label)}</text>`);
    lx += 18 + label.length * 7 + 20;
  };
  for (const g of tl.gateways) legend(`<rect x="{x}" y="{y}" width="12" height="12" fill="${colour(g)}"/>`, `via ${g}`);
  legend(`<rect x="{x}" y="{y}" width="12" height="12" fill="${LOST}"/>`, 'probe lost');
  legend(`<rect x="{x}" y="{y}" width="12" height="12" fill="${LOST}" opacity="0.15" stroke="${LOST}"/>`, 'outage');
  y += 14;

  const h = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
