import type { IPPool as BrokerPool, ReservedIP as BrokerReservedIP, ReservedIPPut } from '../../api/index.js';
import { parseCidr, parseIpSpec } from '../../ipam/index.js';
import type { Condition } from '../../crds/index.js';
import type { KubeObject } from './kube-client.js';
import { BROKER_RV_ANNOTATION, ORIGIN_LABEL } from './sync-plan.js';

/**
 * The pure half of mirroring ReservedIPs, like pools but with the cluster as the source of truth for its own:
 *
 * - A ReservedIP created in the cluster is pushed to the broker owned by this cluster (`cluster` = this cluster);
 *   an edit of `ips`/`reason` is pushed again; deleting the CR deletes it at the broker (this cluster's
 *   ReservedIPs at the broker are exactly its CRs, as for egress objects).
 * - Every other ReservedIP at the broker (another cluster's, or the admin's) is mirrored into a CR labelled
 *   `strait.io/origin: broker`; a local edit of a mirror is reverted (`Conflict=True, OwnedElsewhere`), and the
 *   mirror goes when the broker's object goes.
 * - A ReservedIP with an address outside every pool is refused, by the broker (INVALID_RESERVED_IP) and here
 *   first, from the mirrored pools: it is not pushed, and its status says `Ready=False, reason OutsideEveryPool`
 *   naming the entry, so a refused CR costs no broker round trip per reconcile round.
 *
 * Status (written by the member agent): `pools` the addresses fall in now (the mirrored pools), `owner`, and the
 * conditions `Synced` and `Ready` (`InForce`: every node agent skips the addresses).
 */

export const RESERVED_OWNER_ANNOTATION = 'strait.io/reserved-ip-owner';

export interface ReservedBrokerView {
  pools: ReadonlyMap<string, BrokerPool>;
  reservedIPs: ReadonlyMap<string, BrokerReservedIP>;
}

export type ReservedAction =
  | { type: 'crd-create'; object: KubeObject }
  | { type: 'crd-patch'; name: string; patch: Record<string, unknown> }
  | { type: 'crd-delete'; name: string }
  | { type: 'broker-put'; name: string; body: ReservedIPPut }
  | { type: 'broker-delete'; name: string };

/** What one ReservedIP CR's status should say after this round (unless its action fails). */
export interface ReservedVerdict {
  name: string;
  pools: string[];
  owner?: string;
  brokerResourceVersion?: string;
  synced: { status: Condition['status']; reason: string; message: string };
  ready: { status: Condition['status']; reason: string; message: string };
  conflict?: { reason: string; message: string };
}

export interface ReservedPlan {
  actions: ReservedAction[];
  verdicts: ReservedVerdict[];
}

/**
 * The pools the addresses fall in (in name order), or the first entry outside every pool. The same rule as the
 * broker's `poolsOfReserved`: each range lies whole inside one pool's cidr of its family.
 */
export function reservedPlacement(ips: readonly string[], pools: Iterable<BrokerPool>): { pools: string[] } | { outside: string; index: number } {
  const cidrs = [...pools].sort((a, b) => (a.name < b.name ? -1 : 1)).map((p) => ({ name: p.name, c: parseCidr(p.cidr) }));
  const found = new Set<string>();
  for (const [index, text] of ips.entries()) {
    let r;
    try {
      r = parseIpSpec(text);
    } catch {
      return { outside: text, index };
    }
    const p = cidrs.find(({ c }) => c.family === r.family && c.first <= r.first && r.last <= c.last);
    if (!p) return { outside: text, index };
    found.add(p.name);
  }
  return { pools: cidrs.map((c) => c.name).filter((n) => found.has(n)) };
}

const specOf = (c: KubeObject): { ips: string[]; reason?: string } => {
  const s = (c.spec ?? {}) as { ips?: unknown; reason?: unknown };
  return { ips: Array.isArray(s.ips) ? s.ips.map(String) : [], ...(typeof s.reason === 'string' ? { reason: s.reason } : {}) };
};
const same = (a: { ips: readonly string[]; reason?: string | undefined }, b: { ips: readonly string[]; reason?: string | undefined }): boolean =>
  JSON.stringify(a.ips) === JSON.stringify(b.ips) && (a.reason ?? '') === (b.reason ?? '');

export function planReservedIPs(broker: ReservedBrokerView, crds: readonly KubeObject[], self: string): ReservedPlan {
  const plan: ReservedPlan = { actions: [], verdicts: [] };
  const byName = new Map(crds.map((c) => [c.metadata.name, c]));
  const names = [...new Set([...broker.reservedIPs.keys(), ...byName.keys()])].sort();
  const placed = (ips: readonly string[]): ReservedVerdict['ready'] & { pools: string[] } => {
    const p = reservedPlacement(ips, broker.pools.values());
    if ('outside' in p) {
      return { pools: [], status: 'False', reason: 'OutsideEveryPool', message: `ips[${p.index}] ${p.outside} is outside every pool (create the pool first); nothing is reserved` };
    }
    return { pools: p.pools, status: 'True', reason: 'InForce', message: `reserved in pool${p.pools.length === 1 ? '' : 's'} ${p.pools.join(', ')}: no node agent hands these addresses out` };
  };
  for (const name of names) {
    const b = broker.reservedIPs.get(name);
    const c = byName.get(name);
    if (c?.metadata.deletionTimestamp) continue;
    const owner = b ? (b.cluster ?? 'admin') : self;
    if (b && !c) {
      // This cluster's own at the broker without a CR: the CR was deleted, so it goes at the broker too.
      if (b.cluster === self) plan.actions.push({ type: 'broker-delete', name });
      else plan.actions.push({ type: 'crd-create', object: mirrorObject(b) });
      continue;
    }
    if (!c) continue;
    const want = specOf(c);
    const where = placed(b && b.cluster !== self ? b.ips : want.ips);
    const verdict = (synced: ReservedVerdict['synced'], conflict?: ReservedVerdict['conflict']): void => {
      plan.verdicts.push({
        name, pools: where.pools, owner, ...(b ? { brokerResourceVersion: b.resourceVersion } : {}), synced,
        ready: { status: where.status, reason: where.reason, message: where.message }, ...(conflict ? { conflict } : {}),
      });
    };
    if (!b) {
      if (c.metadata.labels?.[ORIGIN_LABEL] === 'broker') {
        // A mirror of a ReservedIP the broker no longer has: the broker's deletion wins.
        plan.actions.push({ type: 'crd-delete', name });
        continue;
      }
      if (where.status === 'False') {
        verdict({ status: 'False', reason: 'Invalid', message: `not pushed to the broker: ${where.message}` });
        continue;
      }
      plan.actions.push({ type: 'broker-put', name, body: { ips: want.ips, ...(want.reason !== undefined ? { reason: want.reason } : {}), cluster: self } });
      verdict({ status: 'True', reason: 'Pushed', message: 'created at the broker from this cluster' });
      continue;
    }
    if (b.cluster === self) {
      if (!same(want, b)) {
        if (where.status === 'False') {
          verdict({ status: 'False', reason: 'Invalid', message: `the edit was not pushed to the broker: ${where.message}` });
          continue;
        }
        plan.actions.push({ type: 'broker-put', name, body: { ips: want.ips, ...(want.reason !== undefined ? { reason: want.reason } : {}), cluster: self, resourceVersion: b.resourceVersion } });
        verdict({ status: 'True', reason: 'Pushed', message: 'local edit pushed to the broker' });
        continue;
      }
      verdict({ status: 'True', reason: 'InSync', message: `at broker resourceVersion ${b.resourceVersion} (owned by this cluster)` });
      continue;
    }
    // Another cluster's (or the admin's): the CR is a read-only mirror.
    const isMirror = c.metadata.labels?.[ORIGIN_LABEL] === 'broker';
    const stale = c.metadata.annotations?.[BROKER_RV_ANNOTATION] !== b.resourceVersion || !isMirror;
    if (!same(want, b) || stale) {
      plan.actions.push({ type: 'crd-patch', name, patch: { metadata: mirrorMeta(b), spec: { ips: b.ips, reason: b.reason ?? null } } });
    }
    const conflict = !same(want, b) && !stale ? { reason: 'OwnedElsewhere', message: `ReservedIP ${name} is owned by ${owner === 'admin' ? 'the broker admin' : `cluster ${owner}`} and changes only there; the local edit was reverted` }
      : !isMirror && !same(want, b) ? { reason: 'NameTaken', message: `a ReservedIP with this name is owned by ${owner} at the broker; its version was applied` } : undefined;
    verdict({ status: 'True', reason: 'Mirrored', message: `mirrored from the broker (resourceVersion ${b.resourceVersion}, owned by ${owner})` }, conflict);
  }
  return plan;
}

function mirrorMeta(b: BrokerReservedIP): { labels: Record<string, string>; annotations: Record<string, string> } {
  return { labels: { [ORIGIN_LABEL]: 'broker' }, annotations: { [BROKER_RV_ANNOTATION]: b.resourceVersion, [RESERVED_OWNER_ANNOTATION]: b.cluster ?? 'admin' } };
}

function mirrorObject(b: BrokerReservedIP): KubeObject {
  return {
    apiVersion: 'ipam.strait.io/v1alpha1', kind: 'ReservedIP',
    metadata: { name: b.name, ...mirrorMeta(b) },
    spec: { ips: [...b.ips], ...(b.reason !== undefined ? { reason: b.reason } : {}) },
  };
}
