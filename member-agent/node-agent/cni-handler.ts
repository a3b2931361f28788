import { isStraitError } from '../../api/index.js';
import { CNI_CODE, SUPPORTED_CNI_VERSIONS, cniError, requestedVersion } from '../cni-plugin/cni-spec.js';
import type { WireRequest, WireResponse } from './wire-protocol.js';
import type { IpamResult, IpamService, PodIdentity, Route } from './ipam-service.js';

/** Thrown inside the handler to answer with a CNI error; never leaves this file. */
class CniFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}

/**
 * Which CNI code a catalogued Strait error becomes. Codes of the ipam/ engine that are not listed here are
 * bad input of some kind (7) when their status is 4xx, else internal (999).
 */
const CODE_FOR_STRAIT_ERROR: Record<string, number> = {
  POOL_EXHAUSTED: CNI_CODE.POOL_EXHAUSTED,
  POOL_NOT_FOUND: CNI_CODE.NO_SUITABLE_POOL,
  NO_POOL_MATCHES: CNI_CODE.NO_SUITABLE_POOL,
  ALLOCATION_NOT_FOUND: CNI_CODE.NOT_ALLOCATED,
  UNAVAILABLE: CNI_CODE.TRY_AGAIN_LATER,
  AGENT_UNREACHABLE: CNI_CODE.TRY_AGAIN_LATER,
  // The pod was not in the node agent's cache and the API server could not be asked: kubelet retries the sandbox.
  KUBE_UNREACHABLE: CNI_CODE.TRY_AGAIN_LATER,
  KUBE_API_ERROR: CNI_CODE.TRY_AGAIN_LATER,
  KUBE_OBJECT_NOT_FOUND: CNI_CODE.UNKNOWN_CONTAINER,
};

export interface ParsedCall {
  command: 'ADD' | 'DEL' | 'CHECK';
  cniVersion: string;
  pod: PodIdentity;
  pools: { ipv4: string[]; ipv6: string[] };
  /** `ipam.podGateway`: the gateway of an address whose pool names none, by family. */
  podGateway: PodGateway;
  dns: Record<string, unknown>;
  prevResult: unknown;
}

export interface PodGateway {
  ipv4?: string;
  ipv6?: string;
}

/**
 * Turns one forwarded CNI call into the plugin's answer. All CNI semantics live here, in the long-running
 * agent, so the plugin process stays a thin, fast forwarder.
 */
export async function handleCniCall(req: WireRequest, ipam: IpamService): Promise<WireResponse> {
  try {
    const call = parseCall(req);
    switch (call.command) {
      case 'ADD': {
        const res = await ipam.add({ pod: call.pod, pools: call.pools });
        return { ok: true, stdout: JSON.stringify(buildResult(call.cniVersion, res, call.dns, call.podGateway)) };
      }
      case 'DEL':
        await ipam.release(call.pod);
        return { ok: true, stdout: '' };
      case 'CHECK':
        await check(call, ipam);
        return { ok: true, stdout: '' };
    }
  } catch (e) {
    return { ok: false, stdout: JSON.stringify(toCniError(requestedVersionSafe(req.stdin), e)) };
  }
}

function requestedVersionSafe(stdin: string): string {
  try {
    return requestedVersion(JSON.parse(stdin));
  } catch {
    return requestedVersion(undefined);
  }
}

function toCniError(version: string, e: unknown): ReturnType<typeof cniError> {
  if (e instanceof CniFailure) return cniError(version, e.code, e.message, e.details);
  if (isStraitError(e)) {
    const code = CODE_FOR_STRAIT_ERROR[e.code] ?? (e.status >= 400 && e.status < 500 ? CNI_CODE.INVALID_NETCONF : CNI_CODE.INTERNAL);
    const details = e.details && Object.keys(e.details).length > 0 ? `${e.code} ${JSON.stringify(e.details)}` : e.code;
    return cniError(version, code, e.message, details);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return cniError(version, CNI_CODE.INTERNAL, `strait node agent failed: ${msg}`);
}

export function parseCall(req: WireRequest): ParsedCall {
  let conf: unknown;
  try {
    conf = JSON.parse(req.stdin);
  } catch (e) {
    throw new CniFailure(CNI_CODE.DECODE_FAILURE, 'the network configuration is not valid JSON', (e as Error).message);
  }
  if (!conf || typeof conf !== 'object' || Array.isArray(conf)) throw new CniFailure(CNI_CODE.DECODE_FAILURE, 'the network configuration is not a JSON object');
  const c = conf as Record<string, unknown>;
  const cniVersion = c.cniVersion;
  if (typeof cniVersion !== 'string') throw new CniFailure(CNI_CODE.INVALID_NETCONF, 'the network configuration has no "cniVersion"');
  if (!(SUPPORTED_CNI_VERSIONS as readonly string[]).includes(cniVersion)) {
    throw new CniFailure(CNI_CODE.INCOMPATIBLE_VERSION, `CNI version ${cniVersion} is not supported by strait-ipam`, `supported: ${SUPPORTED_CNI_VERSIONS.join(', ')}`);
  }

  const env = req.env;
  const command = env.CNI_COMMAND;
  if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK') {
    throw new CniFailure(CNI_CODE.INVALID_ENV, command ? `unknown CNI_COMMAND "${command}"` : 'CNI_COMMAND is not set', 'expected ADD, DEL, CHECK or VERSION');
  }
  const required: (keyof typeof env)[] = command === 'DEL' ? ['CNI_CONTAINERID', 'CNI_IFNAME'] : ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'];
  const missing = required.filter((k) => !env[k]);
  if (missing.length > 0) throw new CniFailure(CNI_CODE.INVALID_ENV, `required environment variables are missing: ${missing.join(', ')}`);

  const args = parseCniArgs(env.CNI_ARGS ?? '');
  const pod: PodIdentity = {
    containerId: env.CNI_CONTAINERID ?? '',
    ifName: env.CNI_IFNAME ?? '',
    ...(env.CNI_NETNS ? { netns: env.CNI_NETNS } : {}),
    ...(args.K8S_POD_NAMESPACE ? { podNamespace: args.K8S_POD_NAMESPACE } : {}),
    ...(args.K8S_POD_NAME ? { podName: args.K8S_POD_NAME } : {}),
    ...(args.K8S_POD_UID ? { podUid: args.K8S_POD_UID } : {}),
  };

  // The plugin gets the whole network's config; its own section is `ipam`. Fed directly, the config is the section.
  const section = c.ipam === undefined ? c : c.ipam;
  if (!section || typeof section !== 'object' || Array.isArray(section)) throw new CniFailure(CNI_CODE.INVALID_NETCONF, '"ipam" must be an object');
  const s = section as Record<string, unknown>;
  if (s.type !== undefined && s.type !== 'strait-ipam') throw new CniFailure(CNI_CODE.INVALID_NETCONF, `ipam.type is "${String(s.type)}", expected "strait-ipam"`);
  const pools = parsePools(s.ippools);
  const podGateway = parsePodGateway(s.podGateway);
  const dns = s.dns && typeof s.dns === 'object' && !Array.isArray(s.dns) ? (s.dns as Record<string, unknown>) : {};
  return { command, cniVersion, pod, pools, podGateway, dns, prevResult: c.prevResult };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+$/;

/**
 * `ipam.podGateway` (`{"ipv4":"169.254.1.1","ipv6":"fe80::1"}`): the gateway written into the result for an address
 * whose pool names none (broker pools carry none). A point-to-point main plugin (`ptp`, what `strait install-cni`
 * installs) needs a gateway per address and puts it on the host side of each pod's veth as a /32 (/128), so one
 * link-local address serves the pods of every pool on the node.
 */
function parsePodGateway(v: unknown): PodGateway {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new CniFailure(CNI_CODE.INVALID_NETCONF, 'ipam.podGateway must be an object like {"ipv4":"169.254.1.1","ipv6":"fe80::1"}');
  const o = v as Record<string, unknown>;
  const out: PodGateway = {};
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (k !== 'ipv4' && k !== 'ipv6') throw new CniFailure(CNI_CODE.INVALID_NETCONF, `ipam.podGateway has an unknown key "${k}" (expected ipv4, ipv6)`);
    const ok = typeof x === 'string' && (k === 'ipv4' ? IPV4.test(x) : IPV6.test(x) && x.includes(':'));
    if (!ok) throw new CniFailure(CNI_CODE.INVALID_NETCONF, `ipam.podGateway.${k} must be an ${k === 'ipv4' ? 'IPv4' : 'IPv6'} address`, JSON.stringify(x));
    out[k] = x as string;
  }
  return out;
}

function parsePools(v: unknown): { ipv4: string[]; ipv6: string[] } {
  if (v === undefined || v === null) return { ipv4: [], ipv6: [] };
  if (typeof v !== 'object' || Array.isArray(v)) throw new CniFailure(CNI_CODE.INVALID_NETCONF, 'ipam.ippools must be an object like {"ipv4":["pool-a"],"ipv6":["pool-b"]}');
  const o = v as Record<string, unknown>;
  const list = (k: 'ipv4' | 'ipv6'): string[] => {
    const x = o[k];
    if (x === undefined) return [];
    if (!Array.isArray(x) || !x.every((n) => typeof n === 'string' && n.length > 0)) {
      throw new CniFailure(CNI_CODE.INVALID_NETCONF, `ipam.ippools.${k} must be a list of pool names`, JSON.stringify(x));
    }
    return x as string[];
  };
  for (const k of Object.keys(o)) {
    if (k !== 'ipv4' && k !== 'ipv6') throw new CniFailure(CNI_CODE.INVALID_NETCONF, `ipam.ippools has an unknown key "${k}" (expected ipv4, ipv6)`);
  }
  return { ipv4: list('ipv4'), ipv6: list('ipv6') };
}

/** `K=V;K2=V2` as the runtime passes it; parts without `=` are ignored like the reference plugins do. */
export function parseCniArgs(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** The IPAM result in the shape of the requested version (0.3.x/0.4.0 carry `version` per IP). */
export function buildResult(cniVersion: string, res: IpamResult, dns: Record<string, unknown>, podGateway: PodGateway = {}): Record<string, unknown> {
  const legacy = cniVersion !== '1.0.0';
  return {
    cniVersion,
    ips: res.ips.map((ip) => {
      const gateway = ip.gateway ?? (ip.family === 6 ? podGateway.ipv6 : podGateway.ipv4);
      return {
        ...(legacy ? { version: String(ip.family) } : {}),
        address: ip.address,
        ...(gateway ? { gateway } : {}),
      };
    }),
    routes: res.routes.map((r: Route) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst })),
    dns,
  };
}

async function check(call: ParsedCall, ipam: IpamService): Promise<void> {
  const held = await ipam.get(call.pod);
  if (held.length === 0) {
    throw new CniFailure(CNI_CODE.NOT_ALLOCATED, `container ${call.pod.containerId} (${call.pod.ifName}) holds no address from strait-ipam`, 'was ADD run, or was the address released?');
  }
  const prev = call.prevResult as { ips?: { address?: unknown }[] } | undefined;
  if (prev && Array.isArray(prev.ips)) {
    const inPrev = new Set(prev.ips.map((i) => String(i.address)));
    const lost = held.filter((h) => !inPrev.has(h.address));
    if (lost.length > 0) {
      throw new CniFailure(CNI_CODE.NOT_ALLOCATED, `the previous result does not carry the address strait-ipam holds for this container: ${lost.map((l) => l.address).join(', ')}`);
    }
  }
}
