import { createHash } from 'node:crypto';
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

export async function linkExists(netns: string | undefined, name: string): Promise<boolean> {
  const r = await dp(['ip', 'link', 'show', 'dev', name], { netns, allowFailure: true });
  return r.code === 0;
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** IPv4 routes on a device in the main table, `dst` normalised to CIDR form. */
export async function routesOnDev(netns: string | undefined, dev: string, table = 'main'): Promise<IpRoute[]> {
  const r = await dp(['ip', '-j', '-4', 'route', 'show', 'table', table, 'dev', dev], { netns, allowFailure: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as IpRoute[]).map((x) => ({ ...x, dst: x.dst.includes('/') ? x.dst : `${x.dst}/32` }));
}

export async function enableForwarding(netns: string | undefined): Promise<void> {
  await dp(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns });
}
