import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { execWith } from '../host/index.js';
import { StraitError } from '../api/index.js';

/** Runs a datapath command in the gateway namespace; failures become TUNNEL_DATAPATH_FAILED with the output. */
export const dp = execWith(
  (e) => new StraitError('TUNNEL_DATAPATH_FAILED', e.message, { argv: e.argv, code: e.result.code, stderr: e.result.stderr.slice(0, 2000) }, { cause: e }),
  { timeoutMs: 20_000 },
);

/** 4 hex chars from a stable hash: short per-peer/per-gateway suffixes for 15-byte interface names. */
export function shortHash(s: string, len = 4): string {
  return createHash('sha256').update(s).digest('hex').slice(0, len);
}

/** Interface name, checked against the 15-byte limit. */
export function devName(prefix: string, runId: string, suffix = ''): string {
  const n = `${prefix}${runId}${suffix}`;
  if (Buffer.byteLength(n) > 15) throw new StraitError('TUNNEL_INVALID_CONFIG', `interface name too long: ${n}`);
  return n;
}

/**
 * Deterministic overlay MAC for a gateway, derived from its underlay IPv4 (locally administered, unicast):
 * each side knows the other's MAC without ARP, so routes into L2 tunnels need no transit subnet
 * (`route CIDR via <peer underlay IP> dev <tunnel> onlink` + a permanent neighbour entry).
 */
export function overlayMac(underlayIp: string): string {
  const b = underlayIp.split('.').map((x) => Number(x).toString(16).padStart(2, '0'));
  return ['02', '53', ...b].join(':');
}

interface IpLink {
  ifname: string;
  mtu?: number;
  address?: string;
  operstate?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } };
}

export async function listLinks(netns: string | undefined, extra: string[] = []): Promise<IpLink[]> {
  const r = await dp(['ip', '-j', '-d', '-s', 'link', 'show', ...extra], { netns, allowFailure: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return JSON.parse(r.stdout) as IpLink[];
}

/**
 * Whether a link exists. In the process's own namespace it reads /proc/self/net/dev (every link of the namespace the
 * reading thread is in, up or down, with or without addresses) instead of forking `ip`: the agents' tunnel status
 * report asked every 2 s, and each fork of the agent held its main thread for ~15 ms (a 60 s CPU profile of the fast
 * profile's gateway agents: 480-640 ms in `spawn`, all of it this check), which the failure detector and the lease
 * then saw as the agent running late.
 */
export async function linkExists(netns: string | undefined, name: string): Promise<boolean> {
  if (netns === undefined) return ownLinkNames(await readFile('/proc/self/net/dev', 'utf8')).has(name);
  const r = await dp(['ip', 'link', 'show', 'dev', name], { netns, allowFailure: true });
  return r.code === 0;
}

/** Link names in the text of /proc/net/dev: two header lines, then `  name: counters…` per link. */
export function ownLinkNames(procNetDev: string): Set<string> {
  const names = new Set<string>();
  for (const line of procNetDev.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon > 0) names.add(line.slice(0, colon).trim());
  }
  return names;
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

/**
 * IPv4 routes on a device in the main table, `dst` normalised to CIDR form. In the process's own namespace the main
 * table is read from /proc/self/net/route, without forking `ip` (see linkExists: a tunnel reconcile that changed
 * the routed CIDRs forked it twice, and a gateway agent's first reconcile held its main thread for 70 ms).
 */
export async function routesOnDev(netns: string | undefined, dev: string, table = 'main'): Promise<IpRoute[]> {
  if (netns === undefined && table === 'main') return procRoutes(await readFile('/proc/self/net/route', 'utf8')).filter((r) => r.dev === dev);
  const r = await dp(['ip', '-j', '-4', 'route', 'show', 'table', table, 'dev', dev], { netns, allowFailure: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as IpRoute[]).map((x) => ({ ...x, dst: x.dst.includes('/') ? x.dst : `${x.dst}/32` }));
}

/** The routes in the text of /proc/net/route (the main table; addresses as little-endian hex, as the kernel stores them). */
export function procRoutes(text: string): IpRoute[] {
  const ip = (hex: string): string => {
    const n = Number.parseInt(hex, 16);
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
  };
  const prefix = (hex: string): number => {
    let n = Number.parseInt(hex, 16) >>> 0;
    let bits = 0;
    while (n) {
      bits += n & 1;
      n >>>= 1;
    }
    return bits;
  };
  const out: IpRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !f[0]) continue;
    const [dev, dst, gw, , , , , mask] = f as [string, string, string, string, string, string, string, string];
    const gateway = Number.parseInt(gw, 16) === 0 ? undefined : ip(gw);
    out.push({ dst: `${ip(dst)}/${prefix(mask)}`, dev, ...(gateway ? { gateway } : {}) });
  }
  return out;
}

/** Route lines for `ip -batch` in one process: however many CIDRs change, one fork, not one per route. */
export async function ipBatch(netns: string | undefined, lines: readonly string[], allowFailure = false): Promise<void> {
  if (lines.length) await dp(['ip', ...(allowFailure ? ['-force'] : []), '-batch', '-'], { netns, input: `${lines.join('\n')}\n`, allowFailure });
}

/**
 * Makes the main table's routes on `dev` match `want` (CIDR → next hop, `onlink`), as the VXLAN and Geneve drivers
 * route a peer's CIDRs to its underlay address: one read and at most two `ip -batch` forks, not a fork per route and a
 * second read (a reconcile that moved 20 CIDRs forked 21 times). A route on the device without a next hop that nobody
 * asked for (the device's own connected route) stays; a wanted CIDR routed elsewhere is replaced.
 */
export async function syncViaRoutes(netns: string | undefined, dev: string, want: ReadonlyMap<string, string>): Promise<void> {
  const present = await routesOnDev(netns, dev);
  const stale = new Set(present.filter((r) => want.get(r.dst) !== r.gateway));
  await ipBatch(netns, [...stale].map((r) => `route del ${r.dst} dev ${dev}`), true);
  const kept = new Map(present.filter((r) => !stale.has(r)).map((r) => [r.dst, r.gateway]));
  await ipBatch(netns, [...want].filter(([cidr, via]) => kept.get(cidr) !== via).map(([cidr, via]) => `route replace ${cidr} via ${via} dev ${dev} onlink`));
}

export async function enableForwarding(netns: string | undefined): Promise<void> {
  await dp(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns });
}
