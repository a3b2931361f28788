import type { AddressLease, Block, Cluster, IPPool, Subnet, Token } from '../../api/index.js';
import { StraitError } from '../../api/index.js';
import { age } from './broker-output.js';

// What the broker client commands (`strait token|cluster|subnet|pool|egress …`) use once one runs: the client,
// the output, the tables and the flag parsers. broker.ts loads it on first use.
export { clientFrom, print, printList } from './broker-output.js';

/** The filter of `pool blocks|addresses [pool] [--cluster id]`: only what is given. */
export const leaseFilter = (pool: string | undefined, cluster: string | undefined): { pool?: string; cluster?: string } => ({ ...(pool ? { pool } : {}), ...(cluster ? { cluster } : {}) });

export const list = (v: string): string[] => v.split(',').map((x) => x.trim()).filter(Boolean);

/** `k=v,k2=v2` → labels; a term without `=` is a usage error naming the flag. */
export function labelsOf(flag: string, v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const term of list(v)) {
    const i = term.indexOf('=');
    if (i <= 0) throw new StraitError('INVALID_ARGUMENT', `${flag}: expected k=v[,k2=v2…], got ${JSON.stringify(term)}`, { flag });
    out[term.slice(0, i)] = term.slice(i + 1);
  }
  return out;
}

export function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new StraitError('INVALID_ARGUMENT', `not an integer: ${v}`);
  return n;
}

export const CLUSTER_COLS: [string, (c: never) => unknown][] = [
  ['ID', (c: Cluster) => c.id],
  ['STATUS', (c: Cluster) => c.status],
  ['POD CIDRS', (c: Cluster) => c.podCIDRs],
  ['SERVICE CIDRS', (c: Cluster) => c.serviceCIDRs],
  ['HEARTBEAT', (c: Cluster) => age(c.lastHeartbeat)],
  ['RV', (c: Cluster) => c.resourceVersion],
];
export const TOKEN_COLS: [string, (c: never) => unknown][] = [
  ['ID', (t: Token) => t.id],
  ['USED', (t: Token) => `${t.used}/${t.uses}`],
  ['EXPIRES', (t: Token) => t.expiresAt],
  ['DESCRIPTION', (t: Token) => t.description ?? ''],
];
export const SUBNET_COLS: [string, (c: never) => unknown][] = [
  ['NAME', (s: Subnet) => s.name],
  ['CIDR', (s: Subnet) => s.cidr],
  ['DESCRIPTION', (s: Subnet) => s.description ?? ''],
  ['RV', (s: Subnet) => s.resourceVersion],
];
export const POOL_COLS: [string, (c: never) => unknown][] = [
  ['NAME', (p: IPPool) => p.name],
  ['CIDR', (p: IPPool) => p.cidr],
  ['BLOCK', (p: IPPool) => `/${p.blockSize}`],
  ['PURPOSE', (p: IPPool) => p.purpose],
  ['SUBNET', (p: IPPool) => p.subnet ?? ''],
  ['OWNER', (p: IPPool) => p.cluster ?? '(admin)'],
  ['RV', (p: IPPool) => p.resourceVersion],
];
export const BLOCK_COLS: [string, (c: never) => unknown][] = [
  ['ID', (b: Block) => b.id],
  ['CIDR', (b: Block) => b.cidr],
  ['CLUSTER', (b: Block) => b.cluster],
  ['NODE', (b: Block) => b.node],
  ['AGE', (b: Block) => age(b.createdAt)],
];
export const ADDRESS_COLS: [string, (c: never) => unknown][] = [
  ['IP', (a: AddressLease) => a.ip],
  ['POOL', (a: AddressLease) => a.pool],
  ['CLUSTER', (a: AddressLease) => a.cluster],
  ['OWNER', (a: AddressLease) => a.owner],
];

type EgressRow = { kind: string; cluster: string; name: string; namespace?: string; updatedAt: string; spec: unknown };
export const EGRESS_COLS: [string, (r: never) => unknown][] = [
  ['KIND', (r: EgressRow) => r.kind],
  ['CLUSTER', (r: EgressRow) => r.cluster],
  ['NAMESPACE', (r: EgressRow) => r.namespace ?? ''],
  ['NAME', (r: EgressRow) => r.name],
  ['GATEWAY', (r: EgressRow) => (r.spec as { egressGatewayName?: string }).egressGatewayName ?? ''],
  ['UPDATED', (r: EgressRow) => age(r.updatedAt)],
];
