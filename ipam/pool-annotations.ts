import { StraitError } from '../api/index.js';
import type { PoolCandidates } from './allocation-request.js';

/** Pod annotation: pools for the pod's interfaces, `{"ipv4":["p1"],"ipv6":["p6"]}`. */
export const POD_IPPOOL_ANNOTATION = 'ipam.strait.io/ippool';
/** Pod annotation: pools per interface, `[{"interface":"net1","ipv4":["p1"]}]`; outranks `ippool` for that interface. */
export const POD_IPPOOLS_ANNOTATION = 'ipam.strait.io/ippools';
/** Namespace annotations: default pools for pods of the namespace, JSON lists `["p1","p2"]`. */
export const NS_DEFAULT_IPV4_ANNOTATION = 'ipam.strait.io/default-ipv4-ippool';
export const NS_DEFAULT_IPV6_ANNOTATION = 'ipam.strait.io/default-ipv6-ippool';

function bad(key: string, value: string, why: string): StraitError {
  return new StraitError('INVALID_POOL_ANNOTATION', `annotation ${key}: ${why}; got ${JSON.stringify(value)}`, { annotation: key, value });
}

function names(key: string, raw: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) throw bad(key, raw, 'pool lists must be arrays of pool names');
  return v as string[];
}

function candidates(key: string, raw: string, v: unknown): PoolCandidates {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(key, raw, 'expected {"ipv4":[...],"ipv6":[...]}');
  const o = v as Record<string, unknown>;
  const out: PoolCandidates = {};
  const v4 = names(key, raw, o.ipv4);
  const v6 = names(key, raw, o.ipv6);
  if (v4) out.ipv4 = v4;
  if (v6) out.ipv6 = v6;
  return out;
}

function json(key: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw bad(key, raw, 'not JSON');
  }
}

/** The pools the pod annotations name for interface `ifName`, or undefined if they name none. */
export function poolsFromPodAnnotations(annotations: Readonly<Record<string, string>> | undefined, ifName: string): PoolCandidates | undefined {
  const many = annotations?.[POD_IPPOOLS_ANNOTATION];
  if (many !== undefined) {
    const v = json(POD_IPPOOLS_ANNOTATION, many);
    if (!Array.isArray(v)) throw bad(POD_IPPOOLS_ANNOTATION, many, 'expected a list of {"interface":...,"ipv4":[...],"ipv6":[...]}');
    for (const entry of v) {
      if (!entry || typeof entry !== 'object' || typeof (entry as { interface?: unknown }).interface !== 'string')
        throw bad(POD_IPPOOLS_ANNOTATION, many, 'every entry needs "interface"');
      const { interface: iface, ...rest } = entry as Record<string, unknown>;
      if (iface === ifName) return candidates(POD_IPPOOLS_ANNOTATION, many, rest);
    }
  }
  const one = annotations?.[POD_IPPOOL_ANNOTATION];
  if (one !== undefined) return candidates(POD_IPPOOL_ANNOTATION, one, json(POD_IPPOOL_ANNOTATION, one));
  return undefined;
}

/** Namespace default pools from the namespace's annotations (undefined when it sets none). */
export function namespaceDefaultsFromAnnotations(annotations: Readonly<Record<string, string>> | undefined): PoolCandidates | undefined {
  const out: PoolCandidates = {};
  const v4 = annotations?.[NS_DEFAULT_IPV4_ANNOTATION];
  const v6 = annotations?.[NS_DEFAULT_IPV6_ANNOTATION];
  if (v4 !== undefined) out.ipv4 = names(NS_DEFAULT_IPV4_ANNOTATION, v4, json(NS_DEFAULT_IPV4_ANNOTATION, v4));
  if (v6 !== undefined) out.ipv6 = names(NS_DEFAULT_IPV6_ANNOTATION, v6, json(NS_DEFAULT_IPV6_ANNOTATION, v6));
  return out.ipv4 || out.ipv6 ? out : undefined;
}
