import { brokerUrls, isCanonicalCidr, NAME_PATTERN, StraitError } from '../../api/index.js';

/** What `strait join` was asked to do, validated before anything is touched. Pure. */
export interface JoinInput {
  brokerUrl: string;
  token: string;
  clusterId: string;
  caHash?: string;
  caFile?: string;
  podCidrs: string[];
  serviceCidrs: string[];
}

export const STRAIT_NAMESPACE = 'strait-system';
export const CREDENTIALS_SECRET = 'strait-cluster-credentials';
export const CLUSTERSET_NAME = 'strait';

export function validateJoinInput(i: JoinInput): JoinInput {
  // Several broker replicas: `URL,URL,…` (the agents move between them); each must be a URL of the same scheme.
  const urls = brokerUrls(i.brokerUrl).map((u) => {
    try {
      return new URL(u);
    } catch {
      throw new StraitError('INVALID_ARGUMENT', `--broker must be a URL such as https://broker.example:8443 (or several, comma-separated), got ${JSON.stringify(u)}`);
    }
  });
  const url = urls[0];
  if (!url) throw new StraitError('INVALID_ARGUMENT', '--broker must be a URL such as https://broker.example:8443, got nothing');
  for (const u of urls) {
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new StraitError('INVALID_ARGUMENT', `--broker must be http(s), got ${u.protocol}`);
    if (u.protocol !== url.protocol) throw new StraitError('INVALID_ARGUMENT', '--broker URLs must all be https or all http (the replicas share one CA)');
  }
  if (!/^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{8,256}$/.test(i.token)) {
    throw new StraitError('JOIN_TOKEN_INVALID', 'the join token is malformed: expected <id>.<secret> as printed by `strait token create`');
  }
  if (!NAME_PATTERN.test(i.clusterId) || i.clusterId.includes('.')) {
    throw new StraitError('INVALID_ARGUMENT', `--cluster-id must be a DNS label (a-z, 0-9, "-"), got ${JSON.stringify(i.clusterId)}`);
  }
  if (i.caHash !== undefined && i.caHash !== '' && !/^sha256:[0-9a-f]{64}$/.test(i.caHash)) {
    throw new StraitError('INVALID_ARGUMENT', '--ca-hash must be sha256:<64 hex digits> as printed by `strait token create`');
  }
  if (url.protocol === 'https:' && !i.caHash) {
    throw new StraitError('INVALID_ARGUMENT', 'an https broker needs --ca-hash (printed by `strait token create`) to pin its CA');
  }
  for (const c of [...i.podCidrs, ...i.serviceCidrs]) {
    if (!isCanonicalCidr(c)) throw new StraitError('INVALID_CIDR', `${JSON.stringify(c)} is not a CIDR without host bits (e.g. 10.244.0.0/16)`, { cidr: c });
  }
  return { ...i, brokerUrl: brokerUrls(i.brokerUrl).join(',') };
}

/**
 * The cluster's pod CIDRs from its Nodes' `spec.podCIDRs`: per family, the smallest CIDR covering every node's
 * range (kubeadm hands each node a /24 of the cluster range; the broker needs the cluster's). Pure.
 */
export function podCidrsFromNodes(nodeCidrs: readonly string[]): string[] {
  const v4: bigint[][] = [];
  const v6: bigint[][] = [];
  for (const c of nodeCidrs) {
    if (!isCanonicalCidr(c)) continue;
    const [addr = '', bits = '0'] = c.split('/');
    const six = addr.includes(':');
    const width = six ? 128 : 32;
    const start = six ? v6ToBig(addr) : v4ToBig(addr);
    const size = 1n << BigInt(width - Number(bits));
    (six ? v6 : v4).push([start, start + size - 1n]);
  }
  const out: string[] = [];
  if (v4.length) out.push(cover(v4, 32, bigToV4));
  if (v6.length) out.push(cover(v6, 128, bigToV6));
  return out;
}

function cover(ranges: bigint[][], width: number, fmt: (n: bigint) => string): string {
  const lo = ranges.reduce((a, r) => (r[0]! < a ? r[0]! : a), ranges[0]![0]!);
  const hi = ranges.reduce((a, r) => (r[1]! > a ? r[1]! : a), ranges[0]![1]!);
  let prefix = width;
  while (prefix > 0) {
    const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - prefix)) - 1n);
    if ((lo & mask) === (hi & mask)) break;
    prefix--;
  }
  const mask = prefix === 0 ? 0n : ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - prefix)) - 1n);
  return `${fmt(lo & mask)}/${prefix}`;
}

function v4ToBig(a: string): bigint {
  return a.split('.').reduce((n, o) => (n << 8n) + BigInt(Number(o)), 0n);
}
function bigToV4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
}
function v6ToBig(a: string): bigint {
  const [head = '', tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = a.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}
function bigToV6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((n >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
