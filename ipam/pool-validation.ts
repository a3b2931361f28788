import { z } from 'zod';
import { StraitError, isStraitError } from '../api/index.js';
import { blockSizeProblem, DEFAULT_BLOCK_PREFIX } from './block-size.js';
import { cidrContains, formatCidr, parseCidr, specialRangeRefusal, type Cidr } from './cidr.js';
import { formatIp, parseIp, type IpFamily } from './ip-address.js';
import {
  clipRanges,
  countRanges,
  formatRange,
  normalizeRanges,
  parseIpSpec,
  subtractRanges,
  type IpRange,
} from './ip-range.js';
import type { IPPool, IpamConfig, ReservedIP, Route, Subnet } from './model.js';


/** A pool checked and reduced to what allocation needs. */
export interface CompiledPool {
  readonly spec: IPPool;
  readonly name: string;
  readonly family: IpFamily;
  readonly subnet: Cidr;
  /** Sorted disjoint ranges that may be handed out (exclusions, reserved, gateway, network, broadcast removed). */
  readonly usable: readonly IpRange[];
  readonly total: bigint;
  readonly gateway: string | undefined;
  readonly routes: readonly Route[];
  readonly vlan: number | undefined;
  readonly blockPrefix: number;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const name = z.string().max(253).regex(NAME, 'must be a lower-case DNS name (a-z, 0-9, "-", ".")');
const route = z.strictObject({ dst: z.string(), gw: z.string().optional() });
const labels = z.record(z.string(), z.string());
const selector = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

export const SubnetSchema = z.strictObject({
  name,
  cidr: z.string(),
  gateway: z.string().optional(),
  routes: z.array(route).optional(),
  vlan: z.number().int().min(0).max(4094).optional(),
  excludeIPs: z.array(z.string()).optional(),
});

export const IPPoolSchema = z.strictObject({
  name,
  subnet: z.string(),
  ips: z.array(z.string()).optional(),
  excludeIPs: z.array(z.string()).optional(),
  gateway: z.string().optional(),
  routes: z.array(route).optional(),
  vlan: z.number().int().min(0).max(4094).optional(),
  default: z.boolean().optional(),
  disable: z.boolean().optional(),
  blockSize: z.number().int().optional(),
  namespaceAffinity: selector.optional(),
  nodeAffinity: selector.optional(),
  podAffinity: selector.optional(),
});

export const ReservedIPSchema = z.strictObject({ name: name.optional(), ips: z.array(z.string()) });

export const IpamConfigSchema = z.strictObject({
  pools: z.array(z.unknown()),
  subnets: z.array(z.unknown()).optional(),
  reserved: z.array(z.unknown()).optional(),
});

type Code = 'INVALID_POOL' | 'INVALID_SUBNET' | 'INVALID_RESERVED_IP';

function shape<T>(schema: z.ZodType<T>, input: unknown, code: Code, what: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const label = typeof (input as { name?: unknown })?.name === 'string' ? `${what} "${(input as { name: string }).name}"` : what;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new StraitError(code, `${label}: ${issues.join('; ')}`, { issues });
}

/** Re-throws address parse errors as the object's own code, naming the object and field. */
function field<T>(code: Code, label: string, fieldName: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isStraitError(e) && e.code !== code) throw new StraitError(code, `${label}: ${fieldName}: ${e.message}`, { field: fieldName, cause: e.code });
    throw e;
  }
}

/**
 * The range of a subnet or pool (its field `fieldName`) and what both may say about it: a CIDR that is no special
 * range (pools and subnets hand addresses out: no default route, loopback, link-local, multicast; docs/ipam.md),
 * a gateway inside it, routes of its family, excluded addresses that parse.
 */
function checkRange(code: Code, label: string, fieldName: string, text: string, o: { gateway?: string | undefined; routes?: Route[] | undefined; excludeIPs?: string[] | undefined }): Cidr {
  const cidr = field(code, label, fieldName, () => parseCidr(text));
  const why = specialRangeRefusal(cidr);
  if (why) throw new StraitError('SPECIAL_PURPOSE_ADDRESS', `${label}: ${fieldName} ${formatCidr(cidr)} ${why}`, { field: fieldName });
  checkCommon(code, label, cidr, o.gateway, o.routes, o.excludeIPs);
  return cidr;
}

export function parseSubnet(input: unknown): Subnet {
  const s = shape(SubnetSchema, input, 'INVALID_SUBNET', 'subnet');
  checkRange('INVALID_SUBNET', `subnet "${s.name}"`, 'cidr', s.cidr, s);
  return s;
}

export function parseIPPool(input: unknown): IPPool {
  const p = shape(IPPoolSchema, input, 'INVALID_POOL', 'pool');
  const label = `pool "${p.name}"`;
  const cidr = checkRange('INVALID_POOL', label, 'subnet', p.subnet, p);
  for (const [i, text] of (p.ips ?? []).entries()) {
    const r = field('INVALID_POOL', label, `ips[${i}]`, () => parseIpSpec(text));
    if (r.family !== cidr.family || r.first < cidr.first || r.last > cidr.last)
      throw new StraitError('INVALID_POOL', `${label}: ips[${i}] ${text} is outside subnet ${p.subnet}`, { field: `ips[${i}]` });
  }
  if (p.blockSize !== undefined) {
    // The same rule the broker applies when the pool is created there (ipam/block-size.ts).
    const why = blockSizeProblem(cidr.family, cidr.prefix, p.blockSize);
    if (why) throw new StraitError('INVALID_POOL', `${label}: ${why}`, { field: 'blockSize' });
  }
  for (const key of ['namespaceAffinity', 'nodeAffinity', 'podAffinity'] as const) {
    for (const [i, ex] of (p[key]?.matchExpressions ?? []).entries()) {
      const needsValues = ex.operator === 'In' || ex.operator === 'NotIn';
      if (needsValues !== (ex.values !== undefined && ex.values.length > 0))
        throw new StraitError(
          'INVALID_POOL',
          `${label}: ${key}.matchExpressions[${i}]: operator ${ex.operator} ${needsValues ? 'needs' : 'takes no'} values`,
          { field: `${key}.matchExpressions[${i}]` },
        );
    }
  }
  return p;
}

export function parseReservedIP(input: unknown): ReservedIP {
  const r = shape(ReservedIPSchema, input, 'INVALID_RESERVED_IP', 'reserved IP');
  for (const [i, text] of r.ips.entries()) field('INVALID_RESERVED_IP', `reserved IP "${r.name ?? ''}"`, `ips[${i}]`, () => parseIpSpec(text));
  return r;
}

function checkCommon(code: Code, label: string, cidr: Cidr, gateway?: string, routes?: Route[], excludeIPs?: string[]): void {
  if (gateway !== undefined) {
    const g = field(code, label, 'gateway', () => parseIp(gateway));
    if (!cidrContains(cidr, g.family, g.value))
      throw new StraitError(code, `${label}: gateway ${gateway} is outside ${formatCidr(cidr)}`, { field: 'gateway' });
  }
  for (const [i, r] of (routes ?? []).entries()) {
    const dst = field(code, label, `routes[${i}].dst`, () => parseCidr(r.dst));
    if (dst.family !== cidr.family) throw new StraitError(code, `${label}: routes[${i}].dst ${r.dst} is of the other family`, { field: `routes[${i}]` });
    if (r.gw !== undefined) {
      const gw = field(code, label, `routes[${i}].gw`, () => parseIp(r.gw!));
      if (gw.family !== cidr.family) throw new StraitError(code, `${label}: routes[${i}].gw ${r.gw} is of the other family`, { field: `routes[${i}]` });
    }
  }
  for (const [i, text] of (excludeIPs ?? []).entries()) field(code, label, `excludeIPs[${i}]`, () => parseIpSpec(text));
}

/**
 * Validates a whole configuration and compiles its pools. Rejects duplicate names and pools whose usable
 * addresses overlap (POOL_OVERLAP): an address must belong to exactly one pool so that selection, affinity
 * and accounting mean something.
 */
export function compileIpamConfig(input: IpamConfig | unknown): CompiledPool[] {
  const cfg = shape(IpamConfigSchema, input, 'INVALID_POOL', 'IPAM config');
  const subnets = (cfg.subnets ?? []).map(parseSubnet);
  const reserved = (cfg.reserved ?? []).map(parseReservedIP);
  const pools = cfg.pools.map(parseIPPool);
  const seen = new Set<string>();
  for (const p of pools) {
    if (seen.has(p.name)) throw new StraitError('INVALID_POOL', `pool "${p.name}" is defined twice`, { pool: p.name });
    seen.add(p.name);
  }
  const reservedRanges = reserved.flatMap((r) => r.ips.map(parseIpSpec));
  // Every pool's gateway, named or implicit, is kept from every pool: pools may share a subnet, and an address that
  // is one pool's gateway sits on the host side of that pool's pods' veths on every node (ptp), so a pod holding it
  // would be unreachable from there.
  const first = pools.map((p) => compilePool(p, subnets, reservedRanges));
  const gateways = normalizeRanges(first.flatMap((c) => (c.gateway === undefined ? [] : [parseIpSpec(c.gateway)])));
  const compiled = first.map((c) => withoutAddresses(c, gateways));
  for (let i = 0; i < compiled.length; i++) {
    for (let j = i + 1; j < compiled.length; j++) {
      const a = compiled[i]!;
      const b = compiled[j]!;
      if (a.family !== b.family) continue;
      const shared = a.usable.flatMap((r) => clipRanges(b.usable, r.first, r.last));
      if (shared.length > 0)
        throw new StraitError('POOL_OVERLAP', `pools "${a.name}" and "${b.name}" overlap at ${formatRange(shared[0]!)}`, {
          pools: [a.name, b.name],
          overlap: formatRange(shared[0]!),
        });
    }
  }
  return compiled;
}

/** `c` with `ranges` removed from what it may hand out (`total` follows). */
function withoutAddresses(c: CompiledPool, ranges: readonly IpRange[]): CompiledPool {
  const mine = ranges.filter((r) => r.family === c.family);
  if (mine.length === 0) return c;
  const usable = subtractRanges(c.usable, mine);
  const total = countRanges(usable);
  return total === c.total ? c : { ...c, usable, total };
}

/**
 * The gateway a pool's pods get when neither the pool nor its Subnet names one: the subnet's first host address, as
 * host-local and the bridge plugin default to. It must lie inside the subnet: `ptp` (what `strait install-cni`
 * installs) adds the result's routes while only the subnet is on-link, so a default route through an address outside
 * it, such as the link-local `podGateway`, fails with "network is unreachable" and the pod could not leave its pool.
 * /31 and /32 (/127, /128) subnets have no spare address: none.
 */
export function implicitGateway(cidr: Cidr): bigint | undefined {
  const hostBits = (cidr.family === 'ipv4' ? 32 : 128) - cidr.prefix;
  return hostBits >= 2 ? cidr.first + 1n : undefined;
}

/** Compiles one already-parsed pool. Exported for tools that check a single pool. */
export function compilePool(p: IPPool, subnets: readonly Subnet[], reserved: readonly IpRange[]): CompiledPool {
  const cidr = parseCidr(p.subnet);
  const subnet = subnets.find((s) => formatCidr(parseCidr(s.cidr)) === formatCidr(cidr));
  const family = cidr.family;
  const named = p.gateway ?? subnet?.gateway;
  const gateway = named !== undefined ? parseIp(named).value : implicitGateway(cidr);
  let base: IpRange[] = p.ips?.length
    ? normalizeRanges(p.ips.map(parseIpSpec))
    : [{ family, first: cidr.first, last: cidr.last }];
  const remove: IpRange[] = [];
  // Network and (IPv4) broadcast addresses are never handed out, like host-local; /31 and /32 have neither.
  const hostBits = (family === 'ipv4' ? 32 : 128) - cidr.prefix;
  if (hostBits >= 2) {
    remove.push({ family, first: cidr.first, last: cidr.first });
    if (family === 'ipv4') remove.push({ family, first: cidr.last, last: cidr.last });
  }
  if (gateway !== undefined) remove.push({ family, first: gateway, last: gateway });
  for (const text of [...(p.excludeIPs ?? []), ...(subnet?.excludeIPs ?? [])]) {
    const r = parseIpSpec(text);
    if (r.family === family) remove.push(r);
  }
  for (const r of reserved) if (r.family === family) remove.push(r);
  base = clipRanges(base, cidr.first, cidr.last);
  const usable = subtractRanges(base, normalizeRanges(remove));
  return {
    spec: p,
    name: p.name,
    family,
    subnet: cidr,
    usable,
    total: countRanges(usable),
    gateway: gateway === undefined ? undefined : formatIp(family, gateway),
    routes: p.routes ?? subnet?.routes ?? [],
    vlan: p.vlan ?? subnet?.vlan,
    blockPrefix: Math.max(p.blockSize ?? DEFAULT_BLOCK_PREFIX[family], cidr.prefix),
  };
}
