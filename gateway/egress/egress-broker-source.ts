import { firstListing, followBroker, StraitError, type AddressLease, type BrokerEgressClusterPolicy, type BrokerEgressGateway, type BrokerEgressPolicy, type List, type WatchEvent } from '../../api/index.js';
import type { EgressObjects } from './egress-file.js';
import { egressLeaseOwner, egressObjectsFromBroker, egressPoolName, egressRecordKey } from './egress-broker-objects.js';
import { resolveEgress, type EgressInputs, type ResolvedEgress } from './egress-resolve.js';
import { createCoalescingRun, type Logger } from '../../host/index.js';
import type { EgressClusterView } from './egress-pods.js';

/** The broker calls the source uses (BrokerClient has them). */
export interface EgressBrokerClient {
  listEgressGateways(o: { cluster?: string }): Promise<List<BrokerEgressGateway>>;
  listEgressPolicies(o: { cluster?: string }): Promise<List<BrokerEgressPolicy>>;
  listEgressClusterPolicies(o: { cluster?: string }): Promise<List<BrokerEgressClusterPolicy>>;
  leaseAddress(pool: string, req: { owner: string; cluster?: string }): Promise<AddressLease>;
  watch(since: string | number, onEvent: (e: WatchEvent) => void, signal?: AbortSignal): Promise<void>;
}

export interface EgressBrokerSourceOptions {
  readonly cluster: string;
  readonly broker: EgressBrokerClient;
  /** Cluster-internal CIDRs (never steered), as for the file path. */
  readonly clusterCidrs?: readonly string[];
  readonly log: Logger;
  /** Called with every resolution that differs from the previous one (not for the first: start() returns it). */
  readonly onChange?: (r: ResolvedEgress) => Promise<void> | void;
  /** While a policy still waits for a pool IP (pool missing, exhausted, broker down), retry this often (default 3 s). */
  readonly retryMs?: number;
  /** The live pods and namespaces podSelector / namespaceSelector resolve over; without it they match nothing. */
  readonly view?: EgressClusterView;
  /**
   * Another follower of the same watch stream (node-steer's cluster networks): sees every event, and is told after
   * each re-list (it lists its own kinds again). One watch per agent instead of one per follower: the broker
   * limits watches per credential, and every node of a cluster shares its credential.
   */
  readonly follower?: { onEvent(e: WatchEvent): void; onRelisted(): void };
}

const KINDS = new Set(['EgressGateway', 'EgressPolicy', 'EgressClusterPolicy']);

/**
 * Resolves objects like `resolveEgressFile`, but a pool IP that cannot be leased only holds back its own policy
 * (reported in `errors`, left in `pending`); the others still apply.
 */
export async function resolveEgressWithLeases(
  objs: EgressObjects,
  extra: Omit<EgressInputs, 'gateways' | 'policies' | 'clusterPolicies' | 'leased'>,
  lease: (policy: string, gateway: string, family: 'ipv4' | 'ipv6') => Promise<string>,
): Promise<ResolvedEgress> {
  const inputs: EgressInputs = { ...extra, gateways: objs.gateways, policies: objs.policies, clusterPolicies: objs.clusterPolicies };
  const first = resolveEgress(inputs);
  if (first.pending.length === 0) return first;
  const leased = new Map<string, { ipv4?: string; ipv6?: string }>();
  const failed: { policy: string; error: StraitError }[] = [];
  for (const p of first.pending) {
    try {
      leased.set(p.policy, { ...leased.get(p.policy), [p.family]: await lease(p.policy, p.gateway, p.family) });
    } catch (e) {
      const error = e instanceof StraitError ? e : new StraitError('EGRESS_POOL_EXHAUSTED', `no ${p.family} egress IP for ${p.policy}: ${(e as Error).message}`, { policy: p.policy });
      failed.push({ policy: p.policy, error });
    }
  }
  const r = resolveEgress({ ...inputs, leased });
  return { ...r, errors: [...r.errors, ...failed] };
}

/**
 * A cluster's egress objects at the broker, resolved into datapath rules and kept current: lists the three kinds
 * for the cluster, follows the watch stream (re-listing after a break), re-resolves on every change of one of the
 * cluster's egress objects and reports resolutions that changed. Pool IPs are broker address leases from the
 * EgressGateway's pool (`egress-<gateway>-v4|v6`) owned by `egress:<cluster>:<policyKey>`: leasing is idempotent
 * per owner, so every candidate and node of the cluster resolves the same IP.
 */
export class EgressBrokerSource {
  private readonly objects = new Map<string, BrokerEgressGateway | BrokerEgressPolicy | BrokerEgressClusterPolicy>();
  private readonly abort = new AbortController();
  private current: ResolvedEgress | undefined;
  private currentKey = '';
  private readonly syncs = createCoalescingRun(() => this.stopped);
  private stopped = false;
  private loop: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  /** Pool IPs the broker leased, by policy|gateway|family: kept while the broker cannot answer (see resolve). */
  private readonly leased = new Map<string, string>();
  /** Set by broker events: the next resolution asks the broker for every lease again (not only for new policies). */
  private objectsChanged = true;

  constructor(private readonly o: EgressBrokerSourceOptions) {}

  /** The latest resolution. */
  get resolved(): ResolvedEgress | undefined {
    return this.current;
  }

  /**
   * Lists and resolves once, then follows changes in the background. A broker that cannot be read yet (restarting)
   * is retried every second: an agent needs its egress objects before it may serve any egress IP.
   */
  async start(): Promise<ResolvedEgress> {
    // Pods first: the first resolution must already select them, or the datapath would start without them.
    await this.o.view?.start(() => void this.sync());
    const rv = await firstListing({
      relist: () => this.relist(), stopped: () => this.stopped,
      onRetry: (err, attempt) => this.o.log.warn({ err, attempt }, 'egress: cannot list the broker\'s egress objects yet; retrying'),
    });
    await this.resolve(false);
    this.loop = followBroker({
      since: rv, watch: (since, f, signal) => this.o.broker.watch(since, f, signal), relist: () => this.relist(),
      onEvent: (e) => {
        this.o.follower?.onEvent(e);
        this.onEvent(e);
      },
      onRelisted: () => {
        this.o.follower?.onRelisted();
        this.objectsChanged = true;
        void this.sync();
      }, stopped: () => this.stopped, signal: this.abort.signal,
      onBreak: (e) => this.o.log.warn({ err: e }, 'egress: broker watch broke; re-listing'),
    });
    this.retry = setInterval(() => {
      if ((this.current?.pending.length ?? 0) > 0) void this.sync();
    }, this.o.retryMs ?? 3000);
    this.retry.unref();
    return this.current!;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearInterval(this.retry);
    this.abort.abort();
    await this.o.view?.stop();
    await this.loop?.catch(() => undefined);
    await this.syncs.current?.catch(() => undefined);
  }

  private async relist(): Promise<string> {
    const c = { cluster: this.o.cluster };
    const [g, p, cp] = await Promise.all([this.o.broker.listEgressGateways(c), this.o.broker.listEgressPolicies(c), this.o.broker.listEgressClusterPolicies(c)]);
    this.objects.clear();
    for (const x of g.items) this.objects.set(egressRecordKey('EgressGateway', x), x);
    for (const x of p.items) this.objects.set(egressRecordKey('EgressPolicy', x), x);
    for (const x of cp.items) this.objects.set(egressRecordKey('EgressClusterPolicy', x), x);
    return String(Math.min(...[g, p, cp].map((l) => Number(l.resourceVersion))));
  }

  private onEvent(e: WatchEvent): void {
    if (!KINDS.has(e.kind)) return;
    const o = e.object as { cluster?: unknown; name?: unknown; namespace?: unknown };
    if (o.cluster !== this.o.cluster) return;
    const k = egressRecordKey(e.kind, o);
    if (e.type === 'DELETED') this.objects.delete(k);
    else this.objects.set(k, e.object as unknown as BrokerEgressGateway);
    this.objectsChanged = true;
    void this.sync();
  }

  private sync(): Promise<void> {
    return this.syncs.run(async () => {
      await this.resolve(true).catch((e: unknown) => this.o.log.warn({ err: e }, 'egress: resolving broker objects failed'));
    });
  }

  private async resolve(notify: boolean): Promise<void> {
    const objs = egressObjectsFromBroker({
      gateways: [...this.objects.entries()].filter(([k]) => k.startsWith('EgressGateway/')).map(([, v]) => v as BrokerEgressGateway),
      policies: [...this.objects.entries()].filter(([k]) => k.startsWith('EgressPolicy/')).map(([, v]) => v as BrokerEgressPolicy),
      clusterPolicies: [...this.objects.entries()].filter(([k]) => k.startsWith('EgressClusterPolicy/')).map(([, v]) => v as BrokerEgressClusterPolicy),
    });
    // A pod or namespace change alone leaves every policy's lease as it was: the IPs leased before are used
    // without a broker round trip, so a relabel reaches the datapath at watch latency, broker or not.
    const askBroker = this.objectsChanged;
    this.objectsChanged = false;
    const r = await resolveEgressWithLeases(objs, { clusterCidrs: this.o.clusterCidrs ?? [], ...this.o.view?.snapshot() }, async (policy, gateway, family) => {
      const k = `${policy}|${gateway}|${family}`;
      const cached = this.leased.get(k);
      if (!askBroker && cached !== undefined) return cached;
      try {
        const ip = (await this.o.broker.leaseAddress(egressPoolName(gateway, family), { owner: egressLeaseOwner(this.o.cluster, policy), cluster: this.o.cluster })).ip;
        this.leased.set(k, ip);
        return ip;
      } catch (e) {
        // The broker cannot answer right now (restarting, unreachable, its store loading): a policy whose IP it
        // leased before keeps that IP. Leasing is idempotent per owner, so the broker would hand out the same one;
        // dropping it meanwhile took the egress IP off a gateway that served it correctly.
        const known = this.leased.get(k);
        if (known === undefined || (e instanceof StraitError && e.status < 500)) throw e;
        this.o.log.warn({ policy, gateway, family, ip: known, err: e }, 'egress: cannot lease from the broker right now; keeping the IP it leased before');
        return known;
      }
    });
    const key = JSON.stringify({ rules: r.rules, gateways: r.gateways, pending: r.pending, errors: r.errors.map((e) => [e.policy, e.error.code]) });
    if (key === this.currentKey) return;
    const first = this.current === undefined;
    this.current = r;
    this.currentKey = key;
    for (const e of r.errors) this.o.log.warn({ policy: e.policy, err: e.error }, e.error.message);
    this.o.log.info({ rules: r.rules.length, gateways: r.gateways.map((g) => `${g.name}:${g.egressIps.join(',')}`), pending: r.pending.length }, 'egress resolved from the broker');
    if (notify && !first) await this.o.onChange?.(r);
  }
}
