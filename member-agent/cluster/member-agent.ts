import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import {
  BrokerClient, StraitError, isStraitError, type EgressClusterPolicyPut, type EgressGatewayPut, type EgressPolicyPut, type Gateway, type IPPool,
} from '../../api/index.js';
import {
  ClusterSetKind, GatewayKind, IPPoolKind, SubnetKind, EgressGatewayKind, EgressPolicyKind, EgressClusterPolicyKind, ReservedIPKind,
  sameConditions, setCondition, type Condition, type KindDefinition,
} from '../../crds/index.js';
import type { IpamEngine } from '../../ipam/index.js';
import { policyKey } from '../../gateway/index.js';
import { canonical, egressKey, planEgressPush, type EgressAction, type EgressKind, type EgressVerdict } from './egress-push-plan.js';
import { planEgressStatuses, type EgressStatusVerdict } from './egress-status-plan.js';
import { poolStatusFields } from './pool-status-plan.js';
import { planReservedIPs, type ReservedAction, type ReservedVerdict } from './reserved-ip-plan.js';
import { createLogger, type Logger } from '../../host/index.js';
import { ResilientInformer } from './informer-set.js';
import { BrokerMirror } from './broker-mirror.js';
import { readCredentials, type StoredCredentials } from './join.js';
import { CLUSTERSET_NAME, STRAIT_NAMESPACE } from './join-plan.js';
import { isConflict, KubeClient, refOf, type KubeObject } from './kube-client.js';
import { LeaderElector } from './leader-election.js';
import { accessChecked } from './access-guard.js';
import { MEMBER_AGENT_LEASE, memberAgentAccess } from './component-access.js';
import { conflictCondition, type ConflictCondition } from './sticky-conflict.js';
import {
  BROKER_RV_ANNOTATION, ORIGIN_LABEL, SYNC_FINALIZER, SYNCED_SPEC_ANNOTATION, membersOf, planSync, syncedPoolFields,
  type CrdKind, type NodeInfo, type SyncAction, type SyncVerdict,
} from './sync-plan.js';

export interface MemberAgentOptions {
  kubeConfig: k8s.KubeConfig;
  /** Lease holder identity (default `<hostname>-<pid>-<random>`). */
  identity?: string;
  leaseDurationMs?: number;
  /** Full reconcile at least this often even without events. */
  resyncMs?: number;
  heartbeatMs?: number;
  /** Pod IP garbage collection: the IPAM engine whose allocations are checked against live Pods/StatefulSets. */
  ipam?: IpamEngine;
  gcIntervalMs?: number;
  gcGraceMs?: number;
  brokerRetryMs?: number;
  /** A gateway record its agent has not refreshed for this long counts as Unknown, not active (default 10 s). */
  gatewayStaleMs?: number;
  log?: Logger;
}

const KIND_DEFS: Record<CrdKind, KindDefinition> = { Subnet: SubnetKind, IPPool: IPPoolKind, Gateway: GatewayKind };
const EGRESS_DEFS: Record<EgressKind, KindDefinition> = { EgressGateway: EgressGatewayKind, EgressPolicy: EgressPolicyKind, EgressClusterPolicy: EgressClusterPolicyKind };
const nowIso = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * The member agent: one leader per cluster (Lease `strait-member-agent` in strait-system) runs informers on the
 * Strait CRDs, Nodes, Pods, Namespaces and StatefulSets, a mirror of the broker, and a level-triggered reconcile
 * loop executing `planSync` (pure) and writing status conditions. Every event only marks the world dirty; each
 * round recomputes the whole plan from the caches, so restarts, 409s, relists and replays converge to one state.
 */
export class MemberAgent {
  readonly kube: KubeClient;
  private readonly kc: k8s.KubeConfig;
  readonly log: Logger;
  private creds: StoredCredentials | undefined;
  private broker: BrokerClient | undefined;
  private mirror: BrokerMirror | undefined;
  private informers = new Map<string, ResilientInformer>();
  private elector: LeaderElector | undefined;
  private dirty = false;
  private running = false;
  private leading = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];
  private lastGc = 0;
  private epoch = 0;
  /** Failures of the last round by `<kind>/<name>`, shown in status. */
  private failures = new Map<string, { reason: string; message: string }>();
  /** Sticky conflicts this agent reported, by `kind/name`, until the next edit goes through (see writeStatuses). */
  private readonly stickyConflicts = new Map<string, ConflictCondition>();
  readonly stats = { rounds: 0, actions: 0, errors: 0 };
  readonly identity: string;

  constructor(private readonly o: MemberAgentOptions) {
    // Every call is checked against the member agent's declared access, which is also what its RBAC grants.
    this.kc = accessChecked(o.kubeConfig, memberAgentAccess());
    this.kube = new KubeClient(this.kc);
    this.log = o.log ?? createLogger('member-agent');
    this.identity = o.identity ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  async start(): Promise<void> {
    this.creds = await readCredentials(this.kube);
    if (!this.creds) throw new StraitError('NOT_JOINED', `no Secret ${STRAIT_NAMESPACE}/strait-cluster-credentials in ${this.kube.server}: run \`strait join\` first`);
    this.running = true;
    this.elector = new LeaderElector(this.kube, {
      namespace: STRAIT_NAMESPACE, name: MEMBER_AGENT_LEASE, identity: this.identity,
      leaseDurationMs: this.o.leaseDurationMs ?? 15_000,
      onStarted: () => void this.lead(),
      onStopped: () => void this.follow(),
      onError: (e) => this.log.warn({ err: e }, 'leader election'),
    });
    this.elector.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.follow();
    await this.elector?.stop();
  }

  /** Marks everything dirty; the loop runs a round soon. */
  poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  private async lead(): Promise<void> {
    if (!this.running || this.leading || !this.creds) return;
    this.leading = true;
    this.log.info({ identity: this.identity }, 'leading');
    const c = this.creds;
    const common = { baseUrl: c.brokerURL, ...(c.caPem ? { caPem: c.caPem } : {}), timeoutMs: 10_000 };
    this.broker = new BrokerClient({ ...common, token: c.token });
    this.mirror = new BrokerMirror(this.broker, () => this.poke(), this.o.brokerRetryMs ?? 500, c.clusterID);
    const kc = this.kc;
    const onChange = (): void => this.poke();
    const onError = (e: unknown): void => this.log.debug({ err: e }, 'informer error (restarting)');
    const custom = (d: KindDefinition): ResilientInformer => {
      const r = refOf(d);
      return new ResilientInformer(kc, `/apis/${r.group}/${r.version}/${r.plural}`, async () => {
        const l = await this.kube.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural });
        return l as { items: unknown[]; metadata?: { resourceVersion?: string } };
      }, onChange, onError);
    };
    this.informers = new Map<string, ResilientInformer>([
      ['Subnet', custom(SubnetKind)],
      ['IPPool', custom(IPPoolKind)],
      ['Gateway', custom(GatewayKind)],
      ['ReservedIP', custom(ReservedIPKind)],
      ['EgressGateway', custom(EgressGatewayKind)],
      ['EgressPolicy', custom(EgressPolicyKind)],
      ['EgressClusterPolicy', custom(EgressClusterPolicyKind)],
      ['ClusterSet', custom(ClusterSetKind)],
      ['Node', new ResilientInformer(kc, '/api/v1/nodes', () => this.kube.core.listNode(), onChange, onError)],
      ['Namespace', new ResilientInformer(kc, '/api/v1/namespaces', () => this.kube.core.listNamespace(), () => undefined, onError)],
      ['Pod', new ResilientInformer(kc, '/api/v1/pods', () => this.kube.core.listPodForAllNamespaces(), (t) => { if (t === 'delete') this.poke(); }, onError)],
      ['StatefulSet', new ResilientInformer(kc, '/apis/apps/v1/statefulsets', () => this.kube.apps.listStatefulSetForAllNamespaces(), (t) => { if (t === 'delete') this.poke(); }, onError)],
    ]);
    const informers = this.informers;
    const epoch = ++this.epoch;
    await Promise.all([...informers.values()].map((i) => i.start()));
    if (epoch !== this.epoch || !this.leading) {
      // Leadership was lost while the informers listed: undo what this call started.
      await Promise.all([...informers.values()].map((i) => i.stop()));
      return;
    }
    this.mirror.start();
    this.timers.push(setInterval(() => this.poke(), this.o.resyncMs ?? 30_000));
    this.timers.push(setInterval(() => void this.heartbeat(), this.o.heartbeatMs ?? 10_000));
    if (this.o.ipam) this.timers.push(setInterval(() => this.poke(), this.o.gcIntervalMs ?? 10_000));
    this.loop = this.reconcileLoop();
    this.poke();
    void this.heartbeat();
  }

  private async follow(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.epoch++;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.wake?.();
    await this.loop;
    await this.mirror?.stop();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    this.informers.clear();
    this.broker?.close();
    this.log.info('no longer leading');
  }

  /**
   * The heartbeat carries what the broker needs to return leases nobody holds any more: the cluster's live Node names
   * (blocks of other nodes go back) and the live owners of its address leases (`egress:<cluster>:<policy>` for each
   * EgressPolicy/EgressClusterPolicy). Each set is sent only when complete: before the informer listed, or while
   * its watch is failing (the cache would miss what was created meanwhile), it is left out and the broker collects
   * nothing of that kind.
   */
  heartbeatSets(): { nodes?: string[]; addressOwners?: string[] } {
    const cluster = this.creds?.clusterID ?? '';
    const inf = (k: string): ResilientInformer | undefined => this.informers.get(k);
    const nodes = inf('Node');
    const pol = inf('EgressPolicy');
    const cpol = inf('EgressClusterPolicy');
    return {
      ...(nodes?.fresh ? { nodes: nodes.list().map((n) => n.metadata.name).sort() } : {}),
      ...(pol?.fresh && cpol?.fresh
        ? { addressOwners: [...pol.list(), ...cpol.list()].map((p) => `egress:${cluster}:${policyKey(p)}`).sort() }
        : {}),
    };
  }

  private async heartbeat(): Promise<void> {
    if (!this.broker || !this.creds) return;
    await this.broker.heartbeat(this.creds.clusterID, this.heartbeatSets()).catch(async (e: unknown) => {
      if (isStraitError(e, 'UNAUTHENTICATED')) await this.reloadCredential();
      else this.log.debug({ err: e }, 'heartbeat failed');
    });
  }

  /**
   * The broker refused our credential: `strait rotate-credential` (or the admin) replaced it. Read the Secret again
   * and, if it holds a new one for the same cluster and broker, use it from the next call on (the watch included,
   * since it retries through the same client).
   */
  private async reloadCredential(): Promise<void> {
    const fresh = await readCredentials(this.kube).catch(() => undefined);
    const cur = this.creds;
    if (!fresh || !cur || !this.broker) return;
    if (fresh.token === cur.token || fresh.clusterID !== cur.clusterID || fresh.brokerURL !== cur.brokerURL) {
      this.log.warn({ cluster: cur.clusterID }, 'the broker refuses this cluster\'s credential and the Secret holds no newer one (rotated by the admin? store it with `strait rotate-credential` or kubectl)');
      return;
    }
    this.creds = fresh;
    this.broker.token = fresh.token;
    this.log.info({ cluster: cur.clusterID }, 'credential rotated: using the new one from the Secret');
    void this.heartbeat();
  }

  private async reconcileLoop(): Promise<void> {
    while (this.leading) {
      if (!this.dirty) {
        await new Promise<void>((r) => {
          this.wake = r;
          if (this.dirty || !this.leading) r();
        });
        this.wake = undefined;
        continue;
      }
      this.dirty = false;
      try {
        await this.round();
      } catch (e) {
        this.stats.errors++;
        this.log.warn({ err: e }, 'reconcile round failed; retrying');
        await new Promise((r) => setTimeout(r, 250));
        this.dirty = true;
      }
    }
  }

  /** One reconcile round: plan from the caches, execute, write status, collect garbage. */
  private async round(): Promise<void> {
    const mirror = this.mirror;
    const creds = this.creds;
    if (!mirror || !creds) return;
    this.stats.rounds++;
    const inf = (k: string): ResilientInformer | undefined => this.informers.get(k);
    const crdReady = ['Subnet', 'IPPool', 'Gateway', 'Node'].every((k) => inf(k)?.synced);
    const nodes: NodeInfo[] = (inf('Node')?.list() ?? []).map((n) => ({
      name: n.metadata.name, labels: n.metadata.labels ?? {}, annotations: n.metadata.annotations ?? {},
      internalIPs: ((n.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    }));
    if (mirror.listed && inf('ReservedIP')?.synced) {
      const plan = planReservedIPs(mirror, inf('ReservedIP')?.list() ?? [], creds.clusterID);
      for (const a of plan.actions) {
        if (!this.leading) return;
        await this.executeReserved(a, creds.clusterID);
      }
      await this.writeReservedStatuses(plan.verdicts);
    }
    if (mirror.listed && crdReady) {
      const plan = planSync(mirror, {
        clusterId: creds.clusterID,
        subnets: inf('Subnet')?.list() ?? [], pools: inf('IPPool')?.list() ?? [], gateways: inf('Gateway')?.list() ?? [], nodes,
      });
      this.failures.clear();
      for (const a of plan.actions) {
        if (!this.leading) return;
        await this.execute(a, creds.clusterID);
      }
      // Entries of gone Nodes are pruned only from a complete, current list of Nodes.
      const live = inf('Node')?.fresh ? new Set(nodes.map((n) => n.name)) : undefined;
      await this.writeStatuses(plan.verdicts, live, [...mirror.reservedIPs.values()].flatMap((r) => r.ips));
    }
    if (mirror.listed && ['EgressGateway', 'EgressPolicy', 'EgressClusterPolicy'].every((k) => inf(k)?.synced)) {
      // Only with all three listed: a delete at the broker must never come from a partial view of the cluster.
      const plan = planEgressPush(mirror, {
        egressGateways: inf('EgressGateway')?.list() ?? [], egressPolicies: inf('EgressPolicy')?.list() ?? [], egressClusterPolicies: inf('EgressClusterPolicy')?.list() ?? [],
      });
      for (const a of plan.actions) {
        if (!this.leading) return;
        await this.executeEgress(a, creds.clusterID);
      }
      const statuses = planEgressStatuses({
        clusterId: creds.clusterID, nodes, gateways: mirror.gateways, egressLeases: mirror.egressLeases, now: Date.now(), staleMs: this.o.gatewayStaleMs ?? 10_000,
        egressGateways: inf('EgressGateway')?.list() ?? [], egressPolicies: inf('EgressPolicy')?.list() ?? [], egressClusterPolicies: inf('EgressClusterPolicy')?.list() ?? [],
      });
      await this.writeEgressStatuses(plan.verdicts, statuses);
    }
    await this.writeClusterSetStatus(mirror, crdReady);
    await this.collectGarbage();
  }

  private async execute(a: SyncAction, self: string): Promise<void> {
    this.stats.actions++;
    const fail = (kind: string, name: string, e: unknown): void => {
      this.stats.errors++;
      const reason = isStraitError(e) ? toReason(e.code) : 'Error';
      this.failures.set(`${kind}/${name}`, { reason, message: e instanceof Error ? e.message : String(e) });
      this.log.debug({ kind, name, err: e }, 'sync action failed');
      // Level-triggered: try again on the next round (a 409 means fresher data is on its way).
      setTimeout(() => this.poke(), isConflict(e) ? 50 : 1_000).unref();
    };
    try {
      switch (a.type) {
        case 'crd-create':
          try {
            await this.kube.createCustom(refOf(KIND_DEFS[a.kind]), a.object);
          } catch (e) {
            if (!isConflict(e)) throw e; // AlreadyExists: the cache was behind; next round patches it.
          }
          return;
        case 'crd-patch':
          await this.kube.patchCustom(refOf(KIND_DEFS[a.kind]), a.name, a.patch);
          return;
        case 'crd-delete':
          if (a.dropFinalizer) await this.kube.patchCustom(refOf(KIND_DEFS[a.kind]), a.name, { metadata: { finalizers: null } }).catch(() => undefined);
          await this.kube.deleteCustom(refOf(KIND_DEFS[a.kind]), a.name);
          return;
        case 'broker-create-pool': {
          let created: IPPool;
          try {
            created = await this.broker!.createPool(a.body);
          } catch (e) {
            if (!isStraitError(e, 'ALREADY_EXISTS')) throw e;
            created = await this.broker!.getPool(a.name);
          }
          this.mirror?.remember('IPPool', created);
          // The name was taken by a pool this cluster does not own: the next round mirrors that one (NameTaken).
          if (created.cluster !== self) return;
          await this.kube.patchCustom(refOf(IPPoolKind), a.name, {
            metadata: { labels: { [ORIGIN_LABEL]: self }, annotations: { [BROKER_RV_ANNOTATION]: created.resourceVersion, [SYNCED_SPEC_ANNOTATION]: syncedPoolFields({ ...created }) }, finalizers: [SYNC_FINALIZER] },
            spec: { blockSize: created.blockSize },
          });
          return;
        }
        case 'broker-put-pool':
          this.mirror?.remember('IPPool', await this.broker!.putPool(a.name, a.body));
          return;
        case 'broker-delete-pool':
          try {
            await this.broker!.deletePool(a.name);
          } catch (e) {
            if (!isStraitError(e, 'NOT_FOUND')) throw e;
          }
          this.mirror?.pools.delete(a.name);
          await this.kube.patchCustom(refOf(IPPoolKind), a.name, { metadata: { finalizers: null } });
          return;
        case 'broker-put-gateway': {
          const g: Gateway = await this.broker!.putGateway(a.cluster, a.name, a.body);
          this.mirror?.remember('Gateway', g);
          return;
        }
        case 'broker-delete-gateway':
          try {
            await this.broker!.deleteGateway(a.cluster, a.name);
          } catch (e) {
            if (!isStraitError(e, 'NOT_FOUND')) throw e;
          }
          this.mirror?.forget('Gateway', `${a.cluster}/${a.name}`);
          this.log.info({ gateway: `${a.cluster}/${a.name}` }, 'gateway Node unlabelled or gone: deleted at the broker');
          return;
      }
    } catch (e) {
      const [kind, name] = a.type === 'broker-put-gateway' || a.type === 'broker-delete-gateway' ? ['Gateway', `${a.cluster}.${a.name}`] : a.type.startsWith('broker') ? ['IPPool', (a as { name: string }).name] : [(a as { kind: string }).kind, (a as { name?: string }).name ?? (a as { object?: KubeObject }).object?.metadata.name ?? ''];
      fail(kind, name, e);
    }
  }

  private async executeEgress(a: EgressAction, self: string): Promise<void> {
    const b = this.broker!;
    const key = egressKey(a.namespace, a.name);
    this.stats.actions++;
    try {
      if (a.type === 'egress-put') {
        let stored;
        try {
          // The body passed the broker's own schema in the plan; the casts only restate that.
          stored = a.kind === 'EgressGateway' ? await b.putEgressGateway(self, a.name, a.body as EgressGatewayPut)
            : a.kind === 'EgressPolicy' ? await b.putEgressPolicy(self, a.namespace ?? 'default', a.name, a.body as EgressPolicyPut)
              : await b.putEgressClusterPolicy(self, a.name, a.body as EgressClusterPolicyPut);
        } catch (e) {
          if (!isStraitError(e, 'STALE_RESOURCE_VERSION')) throw e;
          // Changed at the broker since the mirror saw it: take its version; the next round pushes again on top.
          const cur = a.kind === 'EgressGateway' ? await b.getEgressGateway(self, a.name)
            : a.kind === 'EgressPolicy' ? await b.getEgressPolicy(self, a.namespace ?? 'default', a.name)
              : await b.getEgressClusterPolicy(self, a.name);
          this.mirror?.remember(a.kind, cur);
          throw e;
        }
        this.mirror?.remember(a.kind, stored);
        return;
      }
      try {
        if (a.kind === 'EgressGateway') await b.deleteEgressGateway(self, a.name);
        else if (a.kind === 'EgressPolicy') await b.deleteEgressPolicy(self, a.namespace ?? 'default', a.name);
        else await b.deleteEgressClusterPolicy(self, a.name);
      } catch (e) {
        if (!isStraitError(e, 'NOT_FOUND')) throw e;
      }
      this.mirror?.forget(a.kind, key);
      this.log.info({ kind: a.kind, name: key }, 'gone from the cluster: deleted at the broker');
    } catch (e) {
      this.stats.errors++;
      this.failures.set(`${a.kind}/${key}`, { reason: isStraitError(e) ? toReason(e.code) : 'Error', message: e instanceof Error ? e.message : String(e) });
      this.log.debug({ kind: a.kind, name: key, err: e }, 'egress push failed');
      setTimeout(() => this.poke(), isStraitError(e, 'STALE_RESOURCE_VERSION') ? 50 : 1_000).unref();
    }
  }

  private async executeReserved(a: ReservedAction, self: string): Promise<void> {
    const b = this.broker!;
    const ref = refOf(ReservedIPKind);
    this.stats.actions++;
    try {
      switch (a.type) {
        case 'crd-create':
          await this.kube.createCustom(ref, a.object).catch((e: unknown) => {
            if (!isConflict(e)) throw e;
          });
          return;
        case 'crd-patch':
          await this.kube.patchCustom(ref, a.name, a.patch);
          return;
        case 'crd-delete':
          await this.kube.deleteCustom(ref, a.name);
          return;
        case 'broker-put':
          try {
            this.mirror?.remember('ReservedIP', await b.putReservedIP(a.name, a.body));
          } catch (e) {
            if (!isStraitError(e, 'STALE_RESOURCE_VERSION')) throw e;
            this.mirror?.remember('ReservedIP', await b.getReservedIP(a.name));
            throw e;
          }
          return;
        case 'broker-delete':
          try {
            await b.deleteReservedIP(a.name);
          } catch (e) {
            if (!isStraitError(e, 'NOT_FOUND')) throw e;
          }
          this.mirror?.forget('ReservedIP', a.name);
          this.log.info({ reservedIP: a.name, cluster: self }, 'ReservedIP gone from the cluster: deleted at the broker');
          return;
      }
    } catch (e) {
      this.stats.errors++;
      const name = a.type === 'crd-create' ? a.object.metadata.name : a.name;
      this.failures.set(`ReservedIP/${name}`, { reason: isStraitError(e) ? toReason(e.code) : 'Error', message: e instanceof Error ? e.message : String(e) });
      this.log.debug({ reservedIP: name, err: e }, 'ReservedIP sync action failed');
      setTimeout(() => this.poke(), isConflict(e) || isStraitError(e, 'STALE_RESOURCE_VERSION') ? 50 : 1_000).unref();
    }
  }

  /** Synced, Ready (in force, or why not), Conflict, the pools and the owner on each ReservedIP. */
  private async writeReservedStatuses(verdicts: ReservedVerdict[]): Promise<void> {
    const now = nowIso();
    for (const v of verdicts) {
      const cur = this.informers.get('ReservedIP')?.list().find((o) => o.metadata.name === v.name);
      if (!cur) continue;
      const failure = this.failures.get(`ReservedIP/${v.name}`);
      this.failures.delete(`ReservedIP/${v.name}`);
      const st = (cur.status ?? {}) as { conditions?: Condition[] } & Record<string, unknown>;
      const gen = cur.metadata.generation;
      const og = gen ? { observedGeneration: gen } : {};
      // The broker refused it (a pool deleted meanwhile): not in force, whatever the mirror said.
      const refused = failure && failure.reason === 'InvalidReservedIp';
      let conds = setCondition(st.conditions, failure ? { type: 'Synced', status: 'False', reason: failure.reason, message: failure.message, ...og } : { type: 'Synced', ...v.synced, ...og }, now);
      conds = setCondition(conds, refused ? { type: 'Ready', status: 'False', reason: 'OutsideEveryPool', message: failure.message, ...og }
        : failure && !v.brokerResourceVersion ? { type: 'Ready', status: 'False', reason: 'NotAtBroker', message: `not reserved yet: ${failure.message}`, ...og }
          : { type: 'Ready', ...v.ready, ...og }, now);
      // A reverted edit stays reported until the broker's object changes (the next edit that goes through).
      const prevConflict = st.conditions?.find((c) => c.type === 'Conflict');
      const keep = !v.conflict && prevConflict?.status === 'True' && st.brokerResourceVersion === v.brokerResourceVersion;
      if (!keep) conds = setCondition(conds, v.conflict ? { type: 'Conflict', status: 'True', ...v.conflict } : { type: 'Conflict', status: 'False', reason: 'NoConflict' }, now);
      const fields = { pools: refused ? [] : v.pools, owner: v.owner, brokerResourceVersion: v.brokerResourceVersion };
      const changed = statusFieldsPatch(st, fields, ['pools', 'owner', 'brokerResourceVersion']);
      if (sameConditions(st.conditions, conds) && !changed && st.observedGeneration === gen) continue;
      await this.kube.patchCustom(refOf(ReservedIPKind), v.name, { status: { conditions: conds, ...(changed ?? {}), ...og } }, { status: true }).catch((e: unknown) => {
        this.log.debug({ err: e }, 'ReservedIP status write failed');
      });
    }
  }

  /**
   * Synced (pushed to the broker) and, from the gateway records and egress leases the mirror follows, Ready and the
   * fields of egressStatusPlan: the candidates, active node and egress IPs. One merge patch per object, only on change.
   */
  private async writeEgressStatuses(verdicts: EgressVerdict[], statuses: readonly EgressStatusVerdict[]): Promise<void> {
    const now = nowIso();
    const byKey = new Map(statuses.map((s) => [`${s.kind}/${egressKey(s.namespace, s.name)}`, s]));
    for (const v of verdicts) {
      const key = egressKey(v.namespace, v.name);
      const cur = this.informers.get(v.kind)?.list().find((o) => o.metadata.name === v.name && (v.namespace === undefined || o.metadata.namespace === v.namespace));
      if (!cur) continue;
      const failure = this.failures.get(`${v.kind}/${key}`);
      const st = (cur.status ?? {}) as { conditions?: Condition[] } & Record<string, unknown>;
      const prev = st.conditions;
      const gen = cur.metadata.generation;
      const og = gen ? { observedGeneration: gen } : {};
      let conds = setCondition(prev, {
        type: 'Synced', status: !failure && v.synced ? 'True' : 'False', reason: failure?.reason ?? v.reason, message: failure?.message ?? v.message, ...og,
      }, now);
      const s = byKey.get(`${v.kind}/${key}`);
      // A spec the broker refuses is carried by no gateway: it says so instead of what an old version did.
      const ready = !v.synced && v.reason === 'Invalid' ? { status: 'False' as const, reason: 'Invalid', message: v.message } : s?.ready;
      if (ready) conds = setCondition(conds, { type: 'Ready', ...ready, ...og }, now);
      const owned = v.kind === 'EgressGateway' ? ['activeNode', 'candidates', 'nodes'] : ['eip', 'gateway', 'node'];
      const changed = statusFieldsPatch(st, s?.fields ?? {}, owned);
      if (sameConditions(prev, conds) && !changed && st.observedGeneration === gen) continue;
      await this.kube.patchCustom(refOf(EGRESS_DEFS[v.kind]), v.name, { status: { conditions: conds, ...(changed ?? {}), ...og } }, { status: true, ...(v.namespace ? { ns: v.namespace } : {}) }).catch((e: unknown) => {
        this.log.debug({ err: e }, 'egress status write failed');
      });
    }
  }

  private async writeStatuses(verdicts: SyncVerdict[], liveNodes: ReadonlySet<string> | undefined, reserved: readonly string[]): Promise<void> {
    const now = nowIso();
    for (const v of verdicts) {
      const inf = this.informers.get(v.kind);
      const cur = inf?.list().find((o) => o.metadata.name === v.name);
      if (!cur) continue; // created this round; its status is written next round
      const st = (cur.status ?? {}) as Record<string, unknown>;
      let fields: Record<string, unknown> | undefined;
      if (v.kind === 'IPPool') {
        // The node agents' entries summed into the printer columns; entries of gone Nodes removed.
        const p = poolStatusFields(cur, liveNodes, reserved);
        fields = statusFieldsPatch(st, p.fields, ['allocatedIPs', 'blocks', 'totalIPs']);
        if (p.prune.length) fields = { ...fields, nodes: Object.fromEntries(p.prune.map((n) => [n, null])) };
      } else if (v.fields) {
        fields = statusFieldsPatch(st, v.fields, Object.keys(v.fields));
        if (fields) fields = { ...fields, ...v.along };
      }
      const failure = this.failures.get(`${v.kind}/${v.name}`);
      const prev = (cur.status as { conditions?: Condition[] } | undefined)?.conditions;
      const gen = cur.metadata.generation;
      let conds = setCondition(prev, failure
        ? { type: 'Synced', status: 'False', reason: failure.reason, message: failure.message, ...(gen ? { observedGeneration: gen } : {}) }
        : { type: 'Synced', status: v.synced ? 'True' : 'False', reason: v.reason, message: v.message, ...(gen ? { observedGeneration: gen } : {}) }, now);
      const conflict = v.conflict ?? (failure && isConflictReason(failure.reason) ? failure : undefined);
      const key = `${v.kind}/${v.name}`;
      const c = conflictCondition({ seen: prev?.find((x) => x.type === 'Conflict'), reported: this.stickyConflicts.get(key), conflict, failed: failure !== undefined, pushed: v.reason === 'Pushed' });
      conds = setCondition(conds, c.condition, now);
      if (c.remember) this.stickyConflicts.set(key, c.remember);
      else this.stickyConflicts.delete(key);
      conds = setCondition(conds, failure || !v.notReady
        ? { type: 'Ready', status: !failure && v.synced ? 'True' : 'False', reason: failure ? failure.reason : v.reason }
        : { type: 'Ready', status: 'False', reason: v.notReady.reason, message: v.notReady.message }, now);
      if (sameConditions(prev, conds) && !fields) continue;
      await this.kube.patchCustom(refOf(KIND_DEFS[v.kind]), v.name, { status: { conditions: conds, ...(fields ?? {}), ...(gen ? { observedGeneration: gen } : {}) } }, { status: true }).catch((e: unknown) => {
        this.log.debug({ err: e }, 'status write failed');
      });
    }
  }

  private async writeClusterSetStatus(mirror: BrokerMirror, crdReady: boolean): Promise<void> {
    const cs = this.informers.get('ClusterSet')?.list().find((o) => o.metadata.name === CLUSTERSET_NAME);
    if (!cs) return;
    const st = (cs.status ?? {}) as { conditions?: Condition[]; members?: unknown; phase?: string };
    const now = nowIso();
    let conds = setCondition(st.conditions, mirror.connected && mirror.listed
      ? { type: 'Synced', status: 'True', reason: 'Watching', message: `watching broker ${this.creds?.brokerURL ?? ''}` }
      : { type: 'Synced', status: 'False', reason: 'BrokerUnreachable', message: mirror.lastError ?? 'connecting to the broker' }, now);
    conds = setCondition(conds, { type: 'Ready', status: mirror.listed && crdReady ? 'True' : 'False', reason: mirror.listed && crdReady ? 'AgentRunning' : 'Starting', message: `leader ${this.identity}` }, now);
    const members = membersOf(mirror.clusters);
    const phase = mirror.connected ? 'Joined' : 'Degraded';
    // brokerRevision rides along with real changes only: writing it on every broker event would double the writes.
    if (sameConditions(st.conditions, conds) && JSON.stringify(st.members) === JSON.stringify(members) && st.phase === phase) return;
    await this.kube.patchCustom(refOf(ClusterSetKind), CLUSTERSET_NAME, { status: { conditions: conds, members, phase, brokerRevision: Number(mirror.since || '0') } }, { status: true })
      .catch((e: unknown) => this.log.debug({ err: e }, 'ClusterSet status write failed'));
  }

  /** Frees addresses of Pods that are gone (StatefulSet addresses are parked by the engine, not freed). */
  private async collectGarbage(): Promise<void> {
    const ipam = this.o.ipam;
    if (!ipam) return;
    const pods = this.informers.get('Pod');
    const sts = this.informers.get('StatefulSet');
    if (!pods?.synced || !sts?.synced) return;
    const interval = Math.min(this.o.gcIntervalMs ?? 10_000, 1_000);
    if (Date.now() - this.lastGc < interval) {
      setTimeout(() => this.poke(), interval).unref();
      return;
    }
    this.lastGc = Date.now();
    const live = {
      podUids: pods.list().map((p) => p.metadata.uid ?? '').filter(Boolean),
      statefulSets: sts.list().map((s) => `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`),
    };
    const plan = await ipam.collectGarbage(live, this.o.gcGraceMs ?? 30_000);
    if (plan.orphans.length || plan.unpin.length) this.log.info({ freed: plan.orphans.map((r) => r.address), unpinned: plan.unpin.map((r) => r.address) }, 'pod IP garbage collected');
  }
}

function toReason(code: string): string {
  return code.toLowerCase().split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/**
 * The merge patch that makes `status` hold `want` for the fields the writer owns (an owned field absent from `want`
 * is removed), or undefined when it already does (compared by value, key order aside).
 */
function statusFieldsPatch(status: Record<string, unknown>, want: Record<string, unknown>, owned: readonly string[]): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const k of owned) {
    const w = want[k];
    const has = status[k] !== undefined && status[k] !== null;
    if (w === undefined) {
      if (has) patch[k] = null;
    } else if (!has || canonical(status[k]) !== canonical(w)) {
      patch[k] = w;
    }
  }
  return Object.keys(patch).length ? patch : undefined;
}

function isConflictReason(reason: string): boolean {
  return ['CidrOverlap', 'AlreadyExists', 'StaleResourceVersion', 'ImmutableField', 'InUse'].includes(reason);
}
