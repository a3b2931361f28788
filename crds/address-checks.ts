import { hostBitsOf, readCidr, readIp, type IpTextFamily } from './ip-text.js';
import { allocatableCidrRefusal, unicastIpRefusal } from './special-ranges.js';

/**
 * Checks of address text as the schemas (CRDs, broker wire) run them: each returns undefined, or the catalogued
 * error code (api/error-catalog.ts) and a message saying what is wrong. The codes are plain strings here because
 * crds/ sits below api/; the broker maps them through the catalog.
 */
export type AddressCode = 'INVALID_IP' | 'INVALID_CIDR' | 'INVALID_IP_RANGE' | 'SPECIAL_PURPOSE_ADDRESS';
export interface AddressProblem {
  readonly code: AddressCode;
  readonly message: string;
}

const FAMILY_NAME: Record<IpTextFamily, string> = { ipv4: 'IPv4', ipv6: 'IPv6' };

export interface IpCheck {
  /** only this family */
  family?: IpTextFamily;
  /** must be a host's own unicast address (not unspecified, multicast or broadcast) */
  unicast?: boolean;
}

export function ipProblem(text: unknown, opts: IpCheck = {}): AddressProblem | undefined {
  const r = readIp(text);
  if (!r.ok) return { code: 'INVALID_IP', message: `not an IP address: ${JSON.stringify(text)} (${r.reason})` };
  if (opts.family && r.family !== opts.family) return { code: 'INVALID_IP', message: `${JSON.stringify(text)} is an ${FAMILY_NAME[r.family]} address; an ${FAMILY_NAME[opts.family]} address is expected here` };
  const why = opts.unicast ? unicastIpRefusal(r.family, r.value) : undefined;
  return why ? { code: 'SPECIAL_PURPOSE_ADDRESS', message: `${JSON.stringify(text)}: ${why}` } : undefined;
}

export interface CidrCheck {
  family?: IpTextFamily;
  /** a range addresses are handed out from or claimed (pool, subnet, pod/service CIDR): no special-purpose range */
  allocatable?: boolean;
}

/** A canonical CIDR: strict address text, decimal prefix, no host bits. */
export function cidrProblem(text: unknown, opts: CidrCheck = {}): AddressProblem | undefined {
  const r = readCidr(text);
  if (!r.ok) return { code: 'INVALID_CIDR', message: `not a CIDR: ${JSON.stringify(text)} (${r.reason})` };
  if (hostBitsOf(r.family, r.value, r.prefix) !== 0n) {
    return { code: 'INVALID_CIDR', message: `not a CIDR: ${JSON.stringify(text)} (host bits set after /${r.prefix})` };
  }
  if (opts.family && r.family !== opts.family) return { code: 'INVALID_CIDR', message: `${JSON.stringify(text)} is an ${FAMILY_NAME[r.family]} CIDR; an ${FAMILY_NAME[opts.family]} CIDR is expected here` };
  const why = opts.allocatable ? allocatableCidrRefusal(r.family, r.value, r.prefix) : undefined;
  return why ? { code: 'SPECIAL_PURPOSE_ADDRESS', message: `${JSON.stringify(text)}: ${why}` } : undefined;
}

/** `first-last` (both included, one family, first <= last) or a single address. */
export function ipRangeProblem(text: unknown, opts: { family?: IpTextFamily } = {}): AddressProblem | undefined {
  if (typeof text !== 'string') return { code: 'INVALID_IP_RANGE', message: 'not a string' };
  const parts = text.split('-');
  if (parts.length > 2) return { code: 'INVALID_IP_RANGE', message: `not an IP range: ${JSON.stringify(text)} (more than one "-")` };
  const ends: { family: IpTextFamily; value: bigint }[] = [];
  for (const [i, p] of parts.entries()) {
    const e = readIp(p);
    if (!e.ok) return { code: 'INVALID_IP_RANGE', message: `not an IP range: ${JSON.stringify(text)} (${parts.length > 1 ? (i === 0 ? 'first: ' : 'last: ') : ''}${e.reason})` };
    ends.push(e);
  }
  const a = ends[0]!;
  const b = ends[1];
  if (b && a.family !== b.family) return { code: 'INVALID_IP_RANGE', message: `not an IP range: ${JSON.stringify(text)} (mixes IPv4 and IPv6)` };
  if (b && a.value > b.value) return { code: 'INVALID_IP_RANGE', message: `not an IP range: ${JSON.stringify(text)} (first is after last)` };
  if (opts.family && a.family !== opts.family) return { code: 'INVALID_IP_RANGE', message: `${JSON.stringify(text)} is ${FAMILY_NAME[a.family]}; only ${FAMILY_NAME[opts.family]} belongs in this list` };
  return undefined;
}

/** A zod refinement reporting `problem` as one custom issue carrying the catalog code (see broker/app.ts). */
export function refineWith(problem: (s: string) => AddressProblem | undefined) {
  return (s: string, ctx: { addIssue(issue: { code: 'custom'; message: string; params: { code: string }; input: string }): void }): void => {
    const p = problem(s);
    if (p) ctx.addIssue({ code: 'custom', message: p.message, params: { code: p.code }, input: s });
  };
}
