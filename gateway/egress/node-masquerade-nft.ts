import { formatIp, normalizeRanges, parseIpSpec, type IpFamily, type IpRange } from '../../ipam/index.js';
import type { NodeMasqueradeIntent } from './datapath.js';

/**
 * The node masquerade as nftables text, pure: a table `strait-nm-<run>` with one srcnat chain and five sets (this
 * cluster's pod CIDRs and every cluster's CIDRs per family, the egress marks). The rule never changes; what
 * changes (a cluster joins or leaves, a pool or an EgressPolicy comes or goes) is set elements, so an update is
 * one transaction of element deletions and additions, and established flows keep the translation they have.
 */

/** Set names per role and family. */
const SETS = { pods4: 'pod_v4', pods6: 'pod_v6', clusters4: 'cluster_v4', clusters6: 'cluster_v6', marks: 'egress_marks' } as const;

/** One interval set's elements: `a.b.c.d/n` where the span is a prefix, else `first-last`. */
function spanText(r: IpRange): string {
  const size = r.last - r.first + 1n;
  const bits = r.family === 'ipv4' ? 32 : 128;
  // A power of two aligned on its size is a prefix.
  if ((size & (size - 1n)) === 0n && r.first % size === 0n) {
    let len = bits;
    for (let s = size; s > 1n; s >>= 1n) len -= 1;
    return `${formatIp(r.family, r.first)}/${len}`;
  }
  return `${formatIp(r.family, r.first)}-${formatIp(r.family, r.last)}`;
}

function spans(list: readonly string[], family: IpFamily): string[] {
  return normalizeRanges(list.map((c) => parseIpSpec(c)).filter((r) => r.family === family)).map(spanText);
}

/**
 * The normal form of an intent: CIDRs parsed (bad ones throw the ipam parse errors), merged where they overlap or
 * touch, IPv4 before IPv6, each span written as a prefix when it is one; marks sorted, once each. Two intents
 * with the same normal form masquerade the same packets.
 */
export function normalizeMasqueradeIntent(i: NodeMasqueradeIntent): NodeMasqueradeIntent {
  return {
    podCidrs: [...spans(i.podCidrs, 'ipv4'), ...spans(i.podCidrs, 'ipv6')],
    clusterCidrs: [...spans(i.clusterCidrs, 'ipv4'), ...spans(i.clusterCidrs, 'ipv6')],
    egressMarks: [...new Set(i.egressMarks)].sort((a, b) => a - b),
  };
}

const isV6 = (s: string): boolean => s.includes(':');

/** Elements per set of a normalised intent. */
function elementsOf(n: NodeMasqueradeIntent): Record<keyof typeof SETS, string[]> {
  return {
    pods4: n.podCidrs.filter((c) => !isV6(c)),
    pods6: n.podCidrs.filter(isV6),
    clusters4: n.clusterCidrs.filter((c) => !isV6(c)),
    clusters6: n.clusterCidrs.filter(isV6),
    marks: n.egressMarks.map((m) => `0x${m.toString(16)}`),
  };
}

export interface MasqueradeTable {
  /** `strait-nm-<run>`. */
  readonly table: string;
  /** The egress VXLAN device: what leaves through it is egress-steered. */
  readonly egressDev: string;
}

/**
 * The whole masquerade, for the first `ensure` of a process (a table an earlier run left is taken over): tables,
 * sets and chain declared idempotently, the chain's rules and every set's elements replaced, in one transaction.
 */
export function masqueradeRuleset(t: MasqueradeTable, intent: NodeMasqueradeIntent): string {
  const n = normalizeMasqueradeIntent(intent);
  const T = `inet ${t.table}`;
  const lines = [
    `add table ${T}`,
    `add set ${T} ${SETS.pods4} { type ipv4_addr; flags interval; }`,
    `add set ${T} ${SETS.pods6} { type ipv6_addr; flags interval; }`,
    `add set ${T} ${SETS.clusters4} { type ipv4_addr; flags interval; }`,
    `add set ${T} ${SETS.clusters6} { type ipv6_addr; flags interval; }`,
    `add set ${T} ${SETS.marks} { type mark; }`,
    // After every srcnat-priority chain: the first NAT binding of a flow wins, so a gateway agent's egress SNAT on
    // the same node (it translates policy traffic of other nodes' pods, arriving over VXLAN) always decides first.
    `add chain ${T} post { type nat hook postrouting priority srcnat + 5; policy accept; }`,
    `flush chain ${T} post`,
    ...Object.values(SETS).map((s) => `flush set ${T} ${s}`),
    // Egress-steered traffic reaches its gateway with the pod's address, where the EgressPolicy's SNAT matches it.
    `add rule ${T} post oifname "${t.egressDev}" return`,
    `add rule ${T} post meta mark @${SETS.marks} return`,
    `add rule ${T} post ip saddr @${SETS.pods4} ip daddr != @${SETS.clusters4} masquerade`,
    `add rule ${T} post ip6 saddr @${SETS.pods6} ip6 daddr != @${SETS.clusters6} masquerade`,
  ];
  const el = elementsOf(n);
  for (const [k, name] of Object.entries(SETS) as [keyof typeof SETS, string][]) {
    if (el[k].length) lines.push(`add element ${T} ${name} { ${el[k].join(', ')} }`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * From one installed intent to the next as element changes only (deletions first, then additions), in one
 * transaction; '' when nothing changes.
 */
export function masqueradeUpdate(t: MasqueradeTable, prev: NodeMasqueradeIntent, next: NodeMasqueradeIntent): string {
  const a = elementsOf(normalizeMasqueradeIntent(prev));
  const b = elementsOf(normalizeMasqueradeIntent(next));
  const T = `inet ${t.table}`;
  const del: string[] = [];
  const add: string[] = [];
  for (const [k, name] of Object.entries(SETS) as [keyof typeof SETS, string][]) {
    const gone = a[k].filter((x) => !b[k].includes(x));
    const fresh = b[k].filter((x) => !a[k].includes(x));
    if (gone.length) del.push(`delete element ${T} ${name} { ${gone.join(', ')} }`);
    if (fresh.length) add.push(`add element ${T} ${name} { ${fresh.join(', ')} }`);
  }
  const lines = [...del, ...add];
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** One element of `nft -j list table` output: an address, a prefix, a range or a number (marks). */
type NftElem = string | number | { prefix: { addr: string; len: number } } | { range: [string, string] } | { elem: { val: NftElem } };

function elemText(e: NftElem): string {
  if (typeof e === 'string') return e;
  if (typeof e === 'number') return String(e);
  if ('prefix' in e) return `${e.prefix.addr}/${e.prefix.len}`;
  if ('range' in e) return `${e.range[0]}-${e.range[1]}`;
  return elemText(e.elem.val);
}

/**
 * The installed intent, from `nft -j list table inet <table>` output (its sets), normalised; undefined when the
 * table holds none of the sets.
 */
export function masqueradeFromNftJson(json: string): NodeMasqueradeIntent | undefined {
  const doc = JSON.parse(json || '{}') as { nftables?: { set?: { name: string; elem?: NftElem[] } }[] };
  const sets = new Map((doc.nftables ?? []).flatMap((x) => (x.set ? [[x.set.name, (x.set.elem ?? []).map(elemText)] as const] : [])));
  if (!sets.has(SETS.pods4)) return undefined;
  const get = (s: string): string[] => [...(sets.get(s) ?? [])];
  return normalizeMasqueradeIntent({
    podCidrs: [...get(SETS.pods4), ...get(SETS.pods6)],
    clusterCidrs: [...get(SETS.clusters4), ...get(SETS.clusters6)],
    egressMarks: get(SETS.marks).map(Number),
  });
}
