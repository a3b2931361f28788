import { POOL_RULE_FIELDS, type Cluster as BrokerCluster, type Gateway as BrokerGateway, type IPPool as BrokerPool, type Subnet as BrokerSubnet, type IPPoolCreate, type IPPoolPut, type GatewayPut } from '../../api/index.js';
import { canonical } from './egress-push-plan.js';
import { poolsFromBroker } from '../node-agent/broker-pools.js';
import type { KubeObject } from './kube-client.js';

/**
 * The pure half of the member agent's two-way sync: given what the broker holds and what the cluster's CRDs say,
 * which writes bring them together. No I/O; the agent executes the actions and table tests pin the rules:
 *
 * - Subnets are the broker's: mirrored into CRDs, local edits of cidr/description are reverted (Conflict), mirrors
 *   of deleted broker Subnets are deleted, Subnets created in the cluster stay local (Synced=False, LocalOnly).
 * - IPPools go both ways: a pool created in the cluster is created at the broker (and then mirrored into every
 *   other cluster); a newer broker version always wins (so edits on both sides converge); a cluster edit of the
 *   mutable fields (purpose, description and the allocation rules: ips, excludeIPs, gateway, routes, vlan, affinities,
 *   default, disable) is pushed with the broker resourceVersion it was based on (a stale push
 *   is refused and the next round applies the broker's version); cidr/blockSize/subnet are fixed once created.
 *   Pools are owned: one pushed from this cluster is created with `cluster` = this cluster (the broker lets the
 *   cluster credential write only pools it owns), so only the owner's edits are pushed; an edit of a mirror of
 *   another cluster's pool (or an admin pool) is reverted with a Conflict (OwnedElsewhere).
 *   Deleting the CRD of a pool this cluster owns deletes it at the broker (a finalizer holds the CRD until then);
 *   deleting a mirror of someone else's pool is undone.
 * - Gateways: every broker gateway is mirrored as `<cluster>.<name>`; this cluster's gateway candidates (Nodes
 *   labelled `strait.io/gateway=true`) are pushed to the broker under the Node's name; this cluster's gateways at
 *   the broker are exactly its labelled Nodes, so one whose Node lost the label or is gone is deleted there.
 */

export const ORIGIN_LABEL = 'strait.io/origin';
export const BROKER_RV_ANNOTATION = 'strait.io/broker-resource-version';
export const SYNC_FINALIZER = 'strait.io/broker-sync';
/** The synced pool fields as last written by the agent: tells a local edit from a broker change. */
export const SYNCED_SPEC_ANNOTATION = 'strait.io/synced-spec';
/** On mirrored pools: the cluster that owns the pool at the broker, or `admin`. */
export const POOL_OWNER_ANNOTATION = 'strait.io/pool-owner';
export const GATEWAY_NODE_LABEL = 'strait.io/gateway';
export const GATEWAY_ENDPOINT_ANNOTATION = 'strait.io/gateway-endpoint';
export const TUNNEL_TYPES_ANNOTATION = 'strait.io/tunnel-types';
export const WIREGUARD_KEY_ANNOTATION = 'strait.io/wireguard-public-key';
export const GATEWAY_PRIORITY_ANNOTATION = 'strait.io/gateway-priority';

export type CrdKind = 'Subnet' | 'IPPool' | 'Gateway';

export interface BrokerView {
  subnets: ReadonlyMap<string, BrokerSubnet>;
  pools: ReadonlyMap<string, BrokerPool>;
  /** keyed `<cluster>/<name>` */
  gateways: ReadonlyMap<string, BrokerGateway>;
  clusters: ReadonlyMap<string, BrokerCluster>;
}

export interface ClusterView {
  clusterId: string;
  subnets: readonly KubeObject[];
  pools: readonly KubeObject[];
  gateways: readonly KubeObject[];
  nodes: readonly NodeInfo[];
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  internalIPs: string[];
}

/** What one object's Synced/Conflict conditions should say after this round (unless its action fails). */
export interface SyncVerdict {
  kind: CrdKind;
  name: string;
  synced: boolean;
  reason: string;
  message: string;
  conflict?: { reason: string; message: string };
  /** The object is mirrored but not usable (a pool the node agents refuse): Ready=False with this reason. */
  notReady?: { reason: string; message: string };
  /**
   * Status fields besides the conditions (a Gateway's health and active flag): written when they differ from the
   * object's status; `along` fields (timestamps, versions) ride with such a write but never cause one.
   */
  fields?: Record<string, unknown>;
  along?: Record<string, unknown>;
}

export type SyncAction =
  | { type: 'crd-create'; kind: CrdKind; object: KubeObject }
  | { type: 'crd-patch'; kind: CrdKind; name: string; patch: Record<string, unknown> }
  | { type: 'crd-delete'; kind: CrdKind; name: string; dropFinalizer: boolean }
  | { type: 'broker-create-pool'; name: string; body: IPPoolCreate }
  | { type: 'broker-put-pool'; name: string; body: IPPoolPut }
  | { type: 'broker-delete-pool'; name: string }
  | { type: 'broker-put-gateway'; cluster: string; name: string; body: GatewayPut }
  | { type: 'broker-delete-gateway'; cluster: string; name: string };

export interface SyncPlan {
  actions: SyncAction[];
  verdicts: SyncVerdict[];
}

const ann = (o: KubeObject, k: string): string | undefined => o.metadata.annotations?.[k];
const label = (o: KubeObject, k: string): string | undefined => o.metadata.labels?.[k];
const spec = (o: KubeObject): Record<string, unknown> => o.spec ?? {};
const byName = (l: readonly KubeObject[]): Map<string, KubeObject> => new Map(l.map((o) => [o.metadata.name, o]));

export function planSync(broker: BrokerView, cluster: ClusterView): SyncPlan {
  const plan: SyncPlan = { actions: [], verdicts: [] };
  planSubnets(broker, cluster, plan);
  planPools(broker, cluster, plan);
  planGateways(broker, cluster, plan);
  return plan;
}

// ------------------------------------------------------------------------------------------------ subnets
function planSubnets(broker: BrokerView, cluster: ClusterView, plan: SyncPlan): void {
  const crds = byName(cluster.subnets);
  for (const b of broker.subnets.values()) {
    const c = crds.get(b.name);
    const want = { cidr: b.cidr, description: b.description };
    const meta = { labels: { [ORIGIN_LABEL]: 'broker' }, annotations: { [BROKER_RV_ANNOTATION]: b.resourceVersion } };
    if (!c) {
      plan.actions.push({ type: 'crd-create', kind: 'Subnet', object: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'Subnet', metadata: { name: b.name, ...meta }, spec: clean(want) } });
      plan.verdicts.push({ kind: 'Subnet', name: b.name, synced: true, reason: 'Mirrored', message: `mirrored from the broker (resourceVersion ${b.resourceVersion})` });
      continue;
    }
    const s = spec(c);
    const differs = s.cidr !== b.cidr || (s.description ?? undefined) !== b.description;
    const stale = ann(c, BROKER_RV_ANNOTATION) !== b.resourceVersion || label(c, ORIGIN_LABEL) !== 'broker';
    if (differs || stale) {
      plan.actions.push({ type: 'crd-patch', kind: 'Subnet', name: b.name, patch: { metadata: meta, spec: { cidr: b.cidr, description: b.description ?? null } } });
    }
    plan.verdicts.push({
      kind: 'Subnet', name: b.name, synced: true, reason: 'Mirrored', message: `mirrored from the broker (resourceVersion ${b.resourceVersion})`,
      ...(differs && !stale ? { conflict: { reason: 'BrokerOwned', message: 'cidr and description of a broker Subnet change only at the broker; the local edit was reverted' } } : {}),
    });
  }
  for (const c of cluster.subnets) {
    if (broker.subnets.has(c.metadata.name)) continue;
    if (label(c, ORIGIN_LABEL) === 'broker') {
      plan.actions.push({ type: 'crd-delete', kind: 'Subnet', name: c.metadata.name, dropFinalizer: false });
    } else {
      plan.verdicts.push({ kind: 'Subnet', name: c.metadata.name, synced: false, reason: 'LocalOnly', message: 'not at the broker: global Subnets are created there (`strait subnet create`); this one is local to the cluster' });
    }
  }
}

// ------------------------------------------------------------------------------------------------ pools
const POOL_FIXED = ['cidr', 'blockSize', 'subnet'] as const;

function poolSpecFrom(b: BrokerPool): Record<string, unknown> {
  return clean({ cidr: b.cidr, blockSize: b.blockSize, subnet: b.subnet, purpose: b.purpose, description: b.description, ...rulesFrom(b as unknown as Record<string, unknown>) });
}

/** The allocation rules of a broker pool or a CRD spec, `default`/`disable` as booleans (the CRD defaults them). */
function rulesFrom(s: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of POOL_RULE_FIELDS) if (s[f] !== undefined && s[f] !== null) out[f] = s[f];
  out.default = s.default === true;
  out.disable = s.disable === true;
  return out;
}

/** A merge patch that makes the CRD's rules exactly the broker's (a rule the broker dropped is removed). */
function rulesPatch(b: BrokerPool): Record<string, unknown> {
  const want = rulesFrom(b as unknown as Record<string, unknown>);
  return Object.fromEntries(POOL_RULE_FIELDS.map((f) => [f, want[f] ?? null]));
}

/** Canonical text of the allocation rules (key order does not matter: the API server may reorder). */
function rulesText(s: Record<string, unknown>): string {
  return canonical(rulesFrom(s));
}

/** Canonical text of the fields a pool shares with the broker. */
export function syncedPoolFields(s: Record<string, unknown>): string {
  return JSON.stringify([s.cidr ?? null, s.blockSize ?? null, s.subnet ?? null, s.purpose ?? 'pods', s.description ?? null, rulesText(s)]);
}

function planPools(broker: BrokerView, cluster: ClusterView, plan: SyncPlan): void {
  const self = cluster.clusterId;
  const crds = byName(cluster.pools);
  const names = new Set([...broker.pools.keys(), ...crds.keys()]);
  for (const name of [...names].sort()) {
    const b = broker.pools.get(name);
    const c = crds.get(name);
    // A pool the node agents would refuse (stored by an older broker) is mirrored, and says why it is not used.
    const refused = b?.purpose === 'pods' ? poolsFromBroker([b]).refused[0] : undefined;
    const notReady = refused && { reason: 'RefusedByNodeAgents', message: `node agents do not use this pool: ${refused.message}` };
    const verdict = (synced: boolean, reason: string, message: string, conflict?: SyncVerdict['conflict']): void => {
      plan.verdicts.push({ kind: 'IPPool', name, synced, reason, message, ...(conflict ? { conflict } : {}), ...(notReady ? { notReady } : {}) });
    };
    if (c?.metadata.deletionTimestamp) {
      const mine = b?.cluster === self;
      if (c.metadata.finalizers?.includes(SYNC_FINALIZER)) {
        if (b && mine) plan.actions.push({ type: 'broker-delete-pool', name });
        else plan.actions.push({ type: 'crd-patch', kind: 'IPPool', name, patch: { metadata: { finalizers: without(c.metadata.finalizers, SYNC_FINALIZER) } } });
      }
      continue;
    }
    if (b && !c) {
      plan.actions.push({
        type: 'crd-create', kind: 'IPPool',
        object: { apiVersion: 'ipam.strait.io/v1alpha1', kind: 'IPPool', metadata: { name, labels: { [ORIGIN_LABEL]: 'broker' }, annotations: { [BROKER_RV_ANNOTATION]: b.resourceVersion, [SYNCED_SPEC_ANNOTATION]: syncedPoolFields(poolSpecFrom(b)), [POOL_OWNER_ANNOTATION]: ownerOf(b) } }, spec: poolSpecFrom(b) },
      });
      verdict(true, 'Mirrored', `mirrored from the broker (resourceVersion ${b.resourceVersion})`);
      continue;
    }
    if (c && !b) {
      if (ann(c, BROKER_RV_ANNOTATION) !== undefined) {
        // It was at the broker and is gone there: the broker's deletion wins.
        plan.actions.push({ type: 'crd-delete', kind: 'IPPool', name, dropFinalizer: true });
      } else {
        const s = spec(c);
        plan.actions.push({
          type: 'broker-create-pool', name,
          body: clean({ name, cidr: String(s.cidr), blockSize: s.blockSize as number | undefined, subnet: s.subnet as string | undefined, purpose: (s.purpose as IPPoolCreate['purpose']) ?? 'pods', description: s.description as string | undefined, cluster: self, ...pushedRules(s) }) as IPPoolCreate,
        });
        verdict(true, 'Pushed', 'created at the broker from this cluster');
      }
      continue;
    }
    if (!b || !c) continue;
    const s = spec(c);
    const basedOn = ann(c, BROKER_RV_ANNOTATION);
    const want = poolSpecFrom(b);
    const fixedDiffers = POOL_FIXED.some((k) => s[k] !== undefined && s[k] !== want[k]) || (s.subnet === undefined && want.subnet !== undefined && basedOn !== undefined);
    const mutableDiffers = (s.purpose ?? 'pods') !== b.purpose || (s.description ?? undefined) !== b.description || rulesText(s) !== rulesText(b as unknown as Record<string, unknown>);
    if (basedOn !== b.resourceVersion) {
      // The broker moved on (or the CRD never saw it): its version wins, local-only fields stay.
      plan.actions.push({ type: 'crd-patch', kind: 'IPPool', name, patch: { metadata: { annotations: { [BROKER_RV_ANNOTATION]: b.resourceVersion, [SYNCED_SPEC_ANNOTATION]: syncedPoolFields(want), [POOL_OWNER_ANNOTATION]: ownerOf(b) } }, spec: { ...want, description: b.description ?? null, subnet: b.subnet ?? null, ...rulesPatch(b) } } });
      const lastSynced = ann(c, SYNCED_SPEC_ANNOTATION);
      const editedLocally = lastSynced !== undefined && lastSynced !== syncedPoolFields(s);
      const lostEdit = basedOn !== undefined && editedLocally && (fixedDiffers || mutableDiffers);
      verdict(true, 'Mirrored', `at broker resourceVersion ${b.resourceVersion}`,
        lostEdit ? { reason: 'BrokerChanged', message: 'the pool changed at the broker before the local edit was pushed; the broker version was applied' }
          : basedOn === undefined && (fixedDiffers || mutableDiffers) ? { reason: 'NameTaken', message: 'a pool with this name already existed at the broker; its version was applied' } : undefined);
      continue;
    }
    if (fixedDiffers) {
      plan.actions.push({ type: 'crd-patch', kind: 'IPPool', name, patch: { metadata: { annotations: { [SYNCED_SPEC_ANNOTATION]: syncedPoolFields(want) } }, spec: { cidr: b.cidr, blockSize: b.blockSize, subnet: b.subnet ?? null } } });
      verdict(true, 'Mirrored', `at broker resourceVersion ${b.resourceVersion}`, { reason: 'ImmutableField', message: 'cidr, blockSize and subnet of a pool cannot change once it exists at the broker; the edit was reverted' });
      continue;
    }
    const mine = b.cluster === self;
    if (mutableDiffers && !mine) {
      // Only the owner (or the admin) may change a pool at the broker: the mirror is read-only here.
      plan.actions.push({ type: 'crd-patch', kind: 'IPPool', name, patch: { metadata: { annotations: { [SYNCED_SPEC_ANNOTATION]: syncedPoolFields(want), [POOL_OWNER_ANNOTATION]: ownerOf(b) } }, spec: { purpose: b.purpose, description: b.description ?? null, ...rulesPatch(b) } } });
      verdict(true, 'Mirrored', `at broker resourceVersion ${b.resourceVersion}`, { reason: 'OwnedElsewhere', message: `pool ${name} is owned by ${b.cluster === undefined ? 'the broker admin' : `cluster ${b.cluster}`} and changes only there; the local edit was reverted` });
      continue;
    }
    if (mutableDiffers) {
      plan.actions.push({ type: 'broker-put-pool', name, body: clean({ purpose: (s.purpose as IPPoolPut['purpose']) ?? 'pods', description: s.description as string | undefined, ...pushedRules(s), resourceVersion: b.resourceVersion }) as IPPoolPut });
      verdict(true, 'Pushed', 'local edit pushed to the broker');
      continue;
    }
    if (mine && !c.metadata.finalizers?.includes(SYNC_FINALIZER)) {
      plan.actions.push({ type: 'crd-patch', kind: 'IPPool', name, patch: { metadata: { finalizers: [...(c.metadata.finalizers ?? []), SYNC_FINALIZER] } } });
    }
    verdict(true, 'InSync', `at broker resourceVersion ${b.resourceVersion}${mine ? ' (owned by this cluster)' : ` (owned by ${ownerOf(b)})`}`);
  }
}

/** The rules of a CRD spec as the broker takes them (`default`/`disable` only when true: absent means false there). */
function pushedRules(s: Record<string, unknown>): Record<string, unknown> {
  const r = rulesFrom(s);
  if (r.default !== true) delete r.default;
  if (r.disable !== true) delete r.disable;
  return r;
}

function ownerOf(b: BrokerPool): string {
  return b.cluster ?? 'admin';
}

// ------------------------------------------------------------------------------------------------ gateways
export function gatewayCrdName(cluster: string, name: string): string {
  return `${cluster}.${name}`.toLowerCase();
}

/** A Node labelled `strait.io/gateway=true` as the broker should see it, or undefined if it has no address. */
export function gatewayCandidateOf(node: NodeInfo): Omit<GatewayPut, 'health' | 'resourceVersion'> | undefined {
  if (node.labels[GATEWAY_NODE_LABEL] !== 'true') return undefined;
  const endpoints = (node.annotations[GATEWAY_ENDPOINT_ANNOTATION]?.split(',').map((s) => s.trim()).filter(Boolean)) ?? node.internalIPs;
  if (!endpoints.length) return undefined;
  const tunnelTypes = (node.annotations[TUNNEL_TYPES_ANNOTATION] ?? 'vxlan').split(',').map((s) => s.trim()).filter(Boolean) as GatewayPut['tunnelTypes'];
  const wg = node.annotations[WIREGUARD_KEY_ANNOTATION];
  const prio = Number(node.annotations[GATEWAY_PRIORITY_ANNOTATION] ?? '100');
  return { endpoints, tunnelTypes, publicKeys: wg ? { wireguard: wg } : {}, priority: Number.isInteger(prio) ? prio : 100 };
}

function planGateways(broker: BrokerView, cluster: ClusterView, plan: SyncPlan): void {
  const crds = byName(cluster.gateways);
  const wanted = new Set<string>();
  for (const g of broker.gateways.values()) {
    const name = gatewayCrdName(g.cluster, g.name);
    wanted.add(name);
    const desired = clean({ clusterID: g.cluster, name: g.name, endpoints: g.endpoints, tunnelTypes: g.tunnelTypes, publicKeys: clean({ ...g.publicKeys }), priority: g.priority });
    const c = crds.get(name);
    if (!c) {
      plan.actions.push({ type: 'crd-create', kind: 'Gateway', object: { apiVersion: 'multicluster.strait.io/v1alpha1', kind: 'Gateway', metadata: { name, labels: { [ORIGIN_LABEL]: 'broker' }, annotations: { [BROKER_RV_ANNOTATION]: g.resourceVersion } }, spec: desired } });
    } else if (label(c, ORIGIN_LABEL) !== 'broker' || canonical(clean(spec(c))) !== canonical(desired)) {
      // Only a change of the spec is patched: a gateway agent republishes its record every 2 s (a new
      // resourceVersion each time), and a write of every mirror in every cluster per refresh is a write storm.
      plan.actions.push({ type: 'crd-patch', kind: 'Gateway', name, patch: { metadata: { labels: { [ORIGIN_LABEL]: 'broker' }, annotations: { [BROKER_RV_ANNOTATION]: g.resourceVersion } }, spec: desired } });
    }
    plan.verdicts.push({
      kind: 'Gateway', name, synced: true, reason: 'Mirrored', message: `mirrored from the broker (cluster ${g.cluster})`,
      ...(g.health !== 'Healthy' ? { notReady: { reason: g.health, message: `its gateway agent reports ${g.health}` } } : {}),
      fields: { health: g.health, active: g.active === true },
      along: { updatedAt: g.updatedAt, brokerResourceVersion: g.resourceVersion },
    });
  }
  for (const c of cluster.gateways) {
    if (!wanted.has(c.metadata.name) && label(c, ORIGIN_LABEL) === 'broker') plan.actions.push({ type: 'crd-delete', kind: 'Gateway', name: c.metadata.name, dropFinalizer: false });
  }
  for (const n of cluster.nodes) {
    const cand = gatewayCandidateOf(n);
    if (!cand) continue;
    const b = broker.gateways.get(`${cluster.clusterId}/${n.name}`);
    const same = b && JSON.stringify(b.endpoints) === JSON.stringify(cand.endpoints) && JSON.stringify(b.tunnelTypes) === JSON.stringify(cand.tunnelTypes) &&
      b.priority === cand.priority && (b.publicKeys.wireguard ?? '') === (cand.publicKeys?.wireguard ?? '');
    if (!same) {
      // Health and the active flag are the gateway agent's: kept as it last published them.
      plan.actions.push({ type: 'broker-put-gateway', cluster: cluster.clusterId, name: n.name, body: { ...cand, health: b?.health ?? 'Unknown', ...(b?.active !== undefined ? { active: b.active } : {}), ...(b ? { resourceVersion: b.resourceVersion } : {}) } });
    }
  }
  // A labelled Node without an address keeps its entry (a gateway agent on it may publish one); only the label counts.
  const labelled = new Set(cluster.nodes.filter((n) => n.labels[GATEWAY_NODE_LABEL] === 'true').map((n) => n.name));
  for (const g of broker.gateways.values()) {
    if (g.cluster === cluster.clusterId && !labelled.has(g.name)) plan.actions.push({ type: 'broker-delete-gateway', cluster: g.cluster, name: g.name });
  }
}

// ------------------------------------------------------------------------------------------------ helpers
function without(list: readonly string[] | undefined, item: string): string[] | null {
  const out = (list ?? []).filter((x) => x !== item);
  return out.length ? out : null;
}

/** Drops undefined fields so comparisons and patches do not see them. */
export function clean<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The ClusterSet status members list from the broker's clusters. */
export function membersOf(clusters: ReadonlyMap<string, BrokerCluster>): { clusterID: string; podCIDRs: string[]; serviceCIDRs: string[] }[] {
  return [...clusters.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((c) => ({ clusterID: c.id, podCIDRs: c.podCIDRs, serviceCIDRs: c.serviceCIDRs }));
}
