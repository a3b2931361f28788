import type { GatewayEvent } from './analysis.js';

/**
 * Parses `ip -ts monitor address route` output into gateway events. The lab runs one monitor in each gateway
 * namespace (egress IPs coming and going) and one on the client node (which gateway its routes point at), so the
 * timeline rests on what the kernel did, not on what an agent says it did.
 */

const TS = /^\[(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?\]\s*(.*)$/;

/** `[2026-11-22T12:11:21.457186] rest` → epoch ms (ip prints local time) and the rest of the line. */
export function parseMonitorTimestamp(line: string): { at: number; rest: string } | null {
  const m = TS.exec(line);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '0', rest = ''] = m;
  const base = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime();
  const fracMs = Number(`0.${frac}`) * 1000;
  return { at: base + fracMs, rest };
}

/** Egress-IP events from a monitor running in gateway `gateway`'s namespace; `eips` are the IPs to follow. */
export function parseAddressEvents(text: string, gateway: string, eips: readonly string[]): GatewayEvent[] {
  const out: GatewayEvent[] = [];
  for (const line of text.split('\n')) {
    const p = parseMonitorTimestamp(line);
    if (!p) continue;
    const m = /^(Deleted\s+)?\d+:\s+\S+\s+inet6?\s+([0-9a-fA-F.:]+)\/\d+/.exec(p.rest);
    if (!m) continue;
    const ip = m[2]!;
    if (!eips.includes(ip)) continue;
    out.push({ at: p.at, kind: m[1] ? 'eip-del' : 'eip-add', gateway, ip });
  }
  return out;
}

/**
 * Route events from a monitor on the client node: a route to `destination` (e.g. the remote cluster's CIDR,
 * or `default` in the egress table) pointing `via` a gateway's address, or through a device that leads to one.
 * `nexthops` maps a gateway address or device name to the gateway's name.
 */
export function parseRouteEvents(
  text: string,
  cluster: string,
  destination: string,
  nexthops: Readonly<Record<string, string>>,
): GatewayEvent[] {
  const out: GatewayEvent[] = [];
  for (const line of text.split('\n')) {
    const p = parseMonitorTimestamp(line);
    if (!p || p.rest.startsWith('Deleted')) continue;
    const words = p.rest.trim().split(/\s+/);
    if (words[0] !== destination) continue;
    const via = words[words.indexOf('via') + 1];
    const dev = words[words.indexOf('dev') + 1];
    const gw = (words.includes('via') && via ? nexthops[via] : undefined) ?? (words.includes('dev') && dev ? nexthops[dev] : undefined);
    if (gw) out.push({ at: p.at, kind: 'route', cluster, gateway: gw });
  }
  return out;
}
