import * as k8s from '@kubernetes/client-node';
import type { GcPlan, IpamEngine } from '../../ipam/index.js';
import { withDeadline, type Logger } from '../../host/index.js';
import { ResilientInformer } from '../cluster/informer-set.js';
import { statusOf } from '../cluster/kube-client.js';
import { accessChecked } from '../cluster/access-guard.js';
import { nodeAgentAccess } from '../cluster/component-access.js';
import { isTerminal, liveSetExcept, parkedStatefulSets, podGcCandidates, type PodSnapshot } from './pod-gc-plan.js';

export interface NodePodGcOptions {
  kubeConfig: k8s.KubeConfig;
  nodeName: string;
  engine: IpamEngine;
  log: Logger;
  /** A pod must be missing this long (and its allocation this old) before its addresses are freed (default 30 s). */
  graceMs?: number;
  /** How often a GC round runs (default 10 s). */
  intervalMs?: number;
  /** The node's Pod informer when another part of the agent already runs one (`NodePodDirectory.pods`); started and stopped by its owner. */
  pods?: ResilientInformer;
}

/** Whether one GC round could run and what it freed. */
export interface PodGcRound {
  ran: boolean;
  /** Why it did not run (the Pod cache is not listed yet). */
  skipped?: string;
  /** Candidates the API server still knows as running pods (the cache was behind): kept. */
  keptAfterCheck: string[];
  plan: GcPlan;
}

const snap = (p: k8s.V1Pod): PodSnapshot => ({
  uid: p.metadata?.uid ?? '',
  namespace: p.metadata?.namespace ?? 'default',
  name: p.metadata?.name ?? '',
  ...(p.status?.phase ? { phase: p.status.phase } : {}),
  ...(p.metadata?.ownerReferences ? { ownerReferences: p.metadata.ownerReferences } : {}),
  ...(p.metadata?.labels ? { labels: p.metadata.labels } : {}),
});

/**
 * Pod IP garbage collection inside the node agent, which holds the allocations: an informer on the Pods of this
 * node only (`fieldSelector=spec.nodeName=<node>`, so the watch scales with the node, not the cluster), a round every
 * `intervalMs` that frees the addresses of pods that are gone (deleted, terminated, or whose DEL never came because
 * the runtime crashed) and parks StatefulSet addresses for the ordinal's next pod (the engine's GC planning). Before
 * freeing, each candidate is confirmed with a GET against the API server, and nothing runs until the Pod list
 * succeeded once: a stale or empty cache can delay GC, never free the address of a running pod.
 */
export class NodePodGc {
  private readonly pods: ResilientInformer;
  private readonly ownsPods: boolean;
  private readonly core: k8s.CoreV1Api;
  private readonly apps: k8s.AppsV1Api;
  private readonly missingSince = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  readonly graceMs: number;
  readonly stats = { rounds: 0, freed: 0, parked: 0, unpinned: 0, keptAfterCheck: 0 };

  constructor(private readonly o: NodePodGcOptions) {
    this.graceMs = o.graceMs ?? 30_000;
    // Every call is checked against the node agent's declared access, which is also what its RBAC grants.
    const kc = accessChecked(o.kubeConfig, nodeAgentAccess());
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    const selector = `spec.nodeName=${o.nodeName}`;
    this.ownsPods = o.pods === undefined;
    this.pods = o.pods ?? new ResilientInformer(
      kc, '/api/v1/pods',
      () => this.core.listPodForAllNamespaces({ fieldSelector: selector }),
      () => undefined,
      (e) => o.log.debug({ err: e }, 'pod informer error (restarting)'),
      selector,
    );
  }

  get synced(): boolean {
    return this.pods.synced;
  }

  /** Waits for the first Pod list at most a few seconds: an API server that does not answer must not keep the node's CNI socket closed. */
  async start(): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.ownsPods ? this.pods.start() : Promise.resolve(), new Promise((r) => (t = setTimeout(r, 5_000)))]).finally(() => clearTimeout(t));
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.round()
        .catch((e: unknown) => this.o.log.warn({ err: e }, 'pod GC round failed; retrying next round'))
        .finally(() => (this.running = undefined));
    }, this.o.intervalMs ?? 10_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.running) await this.running;
    if (this.ownsPods) await this.pods.stop();
  }

  /** One GC round now (waits for a running one first). */
  async collectNow(now?: number): Promise<PodGcRound> {
    while (this.running) await this.running;
    const p = this.round(now);
    this.running = p;
    try {
      return await p;
    } finally {
      this.running = undefined;
    }
  }

  private async round(now = Date.now()): Promise<PodGcRound> {
    const empty: GcPlan = { orphans: [], unpin: [] };
    if (!this.pods.synced) return { ran: false, skipped: 'the Pods of this node are not listed yet', keptAfterCheck: [], plan: empty };
    this.stats.rounds++;
    const records = await this.o.engine.allocations();
    const cached = (this.pods.list() as unknown as k8s.V1Pod[]).map(snap);
    const candidates = podGcCandidates(records, cached, this.missingSince, now, this.graceMs);
    const orphans = [];
    const kept: string[] = [];
    for (const r of candidates) {
      const o = r.owner!;
      const gone = await this.podGone(o.namespace!, o.podName!, o.podUid);
      if (gone) orphans.push(r);
      else kept.push(`${o.namespace}/${o.podName}`);
    }
    const goneSets: string[] = [];
    for (const s of parkedStatefulSets(records, now, this.graceMs)) if (await this.statefulSetGone(s)) goneSets.push(s);
    if (!orphans.length && !goneSets.length) return { ran: true, keptAfterCheck: kept, plan: empty };
    const plan = await this.o.engine.collectGarbage(liveSetExcept(records, orphans, goneSets), this.graceMs, now);
    const parked = plan.orphans.filter((r) => r.sticky).length;
    this.stats.freed += plan.orphans.length - parked;
    this.stats.parked += parked;
    this.stats.unpinned += plan.unpin.length;
    this.stats.keptAfterCheck += kept.length;
    this.o.log.info({
      freed: plan.orphans.filter((r) => !r.sticky).map((r) => `${r.address} (${r.owner?.namespace}/${r.owner?.podName})`),
      parked: plan.orphans.filter((r) => r.sticky).map((r) => `${r.address} (${r.sticky})`),
      unpinned: plan.unpin.map((r) => `${r.address} (${r.sticky})`),
    }, 'pod IP garbage collected');
    return { ran: true, keptAfterCheck: kept, plan };
  }

  /** True only when the API server says so: 404, another pod under that name, or terminated. Errors keep it. */
  private async podGone(namespace: string, name: string, uid: string | undefined): Promise<boolean> {
    try {
      const p = await withDeadline(this.core.readNamespacedPod({ namespace, name }), 5_000, apiSilent);
      return (uid !== undefined && p.metadata?.uid !== uid) || isTerminal({ ...(p.status?.phase ? { phase: p.status.phase } : {}) });
    } catch (e) {
      return statusOf(e) === 404;
    }
  }

  private async statefulSetGone(key: string): Promise<boolean> {
    const [namespace = 'default', name = ''] = key.split('/');
    try {
      await withDeadline(this.apps.readNamespacedStatefulSet({ namespace, name }), 5_000, apiSilent);
      return false;
    } catch (e) {
      return statusOf(e) === 404;
    }
  }
}

const apiSilent = (): Error => new Error('no answer from the API server within 5000 ms');
