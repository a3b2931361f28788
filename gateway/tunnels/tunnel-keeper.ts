import { followBroker, type Cluster, type Gateway, type List, type WatchEvent } from '../../api/index.js';
import type { TunnelDriver, TunnelStatus, TunnelType } from '../../tunnel/index.js';
import type { CandidateProber } from '../failover/candidate-prober.js';
import { electActive, HealthTracker, leaseClaimant, type CandidateHealth } from '../failover/election.js';
import { planTunnelPeers, type BrokerClusterView, type BrokerGatewayView, type TunnelPlan } from './tunnel-peers.js';
import { createCoalescingRun, type Logger } from '../../host/index.js';

/** The broker calls the keeper uses (BrokerClient has them). */
export interface TunnelKeeperBroker {
  listGateways(): Promise<List<Gateway>>;
  listClusters(): Promise<List<Cluster>>;
  watch(since: string | number, onEvent: (e: WatchEvent) => void, signal?: AbortSignal): Promise<void>;
}

export interface TunnelKeeperOptions {
  readonly cluster: string;
  readonly type: TunnelType;
  readonly driver: TunnelDriver;
  readonly broker: TunnelKeeperBroker;
  readonly log: Logger;
  /** A gateway record older than this is treated as gone (default 8 s: agents re-publish every 2 s). */
  readonly staleMs?: number;
  /** How often the plan is re-evaluated without events (staleness is a matter of time; default 1 s). */
  readonly tickMs?: number;
  readonly now?: () => number;
  /** Called after every reconcile and every 2 s with the driver's status and the plan. */
  readonly onStatus?: (s: TunnelKeeperStatus) => void;
  /**
   * Probe the other clusters' gateways (their probe responders at their published endpoints) and pick each remote
   * cluster's active gateway by the same election its nodes run (priority, misses, hold-down): a remote failover
   * moves its CIDRs as fast as the remote nodes move their routes, instead of when the broker record goes stale.
   */
  readonly probe?: {
    /** A new prober per target set (targets are fixed at start). */
    readonly prober: () => CandidateProber;
    readonly port: number;
    readonly holdDownMs: number;
    /** Monotonic clock of the prober's `at` (default performance.now). */
    readonly clock?: () => number;
  };
}

export interface TunnelKeeperStatus {
  readonly type: TunnelType;
  readonly active: Record<string, string | null>;
  readonly skipped: TunnelPlan['skipped'];
  readonly tunnel: TunnelStatus;
  readonly error?: string;
  readonly at: number;
}

const key = (o: { cluster?: unknown; name?: unknown }): string => `${String(o.cluster)}/${String(o.name)}`;

/**
 * Keeps this gateway's tunnels to every gateway of the other clusters in step with the broker: lists gateways and
 * clusters, follows the watch stream (re-listing after a break), re-plans on every change and once per tick (a
 * silent gateway goes stale with time, not with an event) and hands the plan to the tunnel driver only when it
 * changed. Runs the same on active and standby candidates, so a standby's sessions are up before it takes over.
 */
export class TunnelKeeper {
  private readonly gateways = new Map<string, BrokerGatewayView>();
  private readonly clusters = new Map<string, BrokerClusterView>();
  private readonly abort = new AbortController();
  private applied: string | undefined;
  private readonly syncs = createCoalescingRun(() => this.stopped);
  private timer: NodeJS.Timeout | undefined;
  private watchLoop: Promise<void> | undefined;
  private lastPlan: TunnelPlan | undefined;
  private lastError: string | undefined;
  private ticks = 0;
  private stopped = false;
  private reporting = false;
  private reportAgain = false;
  private lastReportAt = 0;
  private readonly tracker = new HealthTracker(1);
  private prober: CandidateProber | undefined;
  private probeKey = '';
  private readonly chosen = new Map<string, string>();
  /** Lease epoch each remote gateway's probe replies claim (key: cluster/name; 0 or absent: none). */
  private readonly claims = new Map<string, number>();

  constructor(private readonly o: TunnelKeeperOptions) {}

  get plan(): TunnelPlan | undefined {
    return this.lastPlan;
  }

  /** Brings the tunnel device up and applies the broker's current view; then follows changes in the background. */
  async start(): Promise<void> {
    await this.o.driver.init();
    const rv = await this.relist().catch((e: unknown) => {
      this.o.log.warn({ err: e }, 'tunnels: listing the broker failed; retrying in the background');
      return undefined;
    });
    await this.sync();
    this.watchLoop = followBroker({
      since: rv, watch: (since, f, signal) => this.o.broker.watch(since, f, signal), relist: () => this.relist(),
      onEvent: (e) => this.onEvent(e), onRelisted: () => void this.sync(), stopped: () => this.stopped, signal: this.abort.signal,
      onBreak: (e) => this.o.log.warn({ err: e }, 'tunnels: broker watch broke; re-listing'),
    });
    // With probes, hold-downs end between events: re-plan often (cheap: the driver is called only on change).
    const tick = this.o.tickMs ?? (this.o.probe ? 100 : 1000);
    this.timer = setInterval(() => {
      this.ticks++;
      const now = Date.now();
      const report = now - this.lastReportAt >= 2000;
      if (report) this.lastReportAt = now;
      void this.sync(report);
    }, tick);
    this.timer.unref();
  }

  /** Stops following the broker; with `removeTunnels`, removes the devices and daemons the driver made. */
  async stop(removeTunnels = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.abort.abort();
    await this.watchLoop?.catch(() => undefined);
    await this.syncs.current?.catch(() => undefined);
    await this.prober?.stop().catch(() => undefined);
    if (removeTunnels) await this.o.driver.remove();
  }

  private async relist(): Promise<string> {
    const [gws, cls] = await Promise.all([this.o.broker.listGateways(), this.o.broker.listClusters()]);
    this.gateways.clear();
    for (const g of gws.items) this.gateways.set(key(g), g);
    this.clusters.clear();
    for (const c of cls.items) this.clusters.set(c.id, c);
    // Resume the watch after the older of the two lists: replaying a few events twice is harmless.
    return String(Math.min(Number(gws.resourceVersion), Number(cls.resourceVersion)));
  }

  private onEvent(e: WatchEvent): void {
    if (e.kind === 'Gateway') {
      const g = e.object as unknown as Gateway;
      if (e.type === 'DELETED') this.gateways.delete(key(g));
      else this.gateways.set(key(g), g);
    } else if (e.kind === 'Cluster') {
      const c = e.object as unknown as Cluster;
      if (e.type === 'DELETED') this.clusters.delete(c.id);
      else this.clusters.set(c.id, c);
    } else return;
    void this.sync();
  }

  /** Re-plans and reconciles, one at a time; calls during a run coalesce into one more run. */
  private sync(report = false): Promise<void> {
    return this.syncs.run(async () => {
      await this.syncOnce(report);
    });
  }

  /** Keeps one prober running over the remote gateways' endpoints (restarted when that set changes). */
  private async ensureProber(): Promise<void> {
    const p = this.o.probe;
    if (!p) return;
    const targets = [...this.gateways.values()]
      .filter((g) => g.cluster !== this.o.cluster && g.tunnelTypes.includes(this.o.type))
      .map((g) => ({ name: key(g), address: g.endpoints.find((e) => !e.includes(':')) ?? '', port: p.port }))
      .filter((t) => t.address !== '')
      .sort((a, b) => a.name.localeCompare(b.name));
    const k = JSON.stringify(targets);
    if (k === this.probeKey) return;
    this.probeKey = k;
    await this.prober?.stop().catch(() => undefined);
    this.prober = undefined;
    if (targets.length === 0) return;
    const prober = p.prober();
    this.prober = prober;
    this.claims.clear();
    await prober.start(
      targets,
      (name, up, at) => {
        if (up) this.tracker.markUp(name, at);
        else this.tracker.markDown(name, at);
        this.o.log.info({ gateway: name, up }, 'tunnels: remote gateway probe changed');
        void this.sync();
      },
      (name, epoch) => {
        this.claims.set(name, epoch);
        this.o.log.info({ gateway: name, epoch }, 'tunnels: remote gateway lease claim changed');
        void this.sync();
      },
    );
  }

  /** The election a remote cluster's nodes run, over this gateway's probes of its candidates. */
  private choose(cluster: string, usable: readonly BrokerGatewayView[]): string | undefined {
    const p = this.o.probe;
    if (!p) return undefined;
    const view = this.tracker.view();
    // Not probed yet: counts as healthy and settled (as the gateway agent treats peers it has not judged yet).
    const health = new Map<string, CandidateHealth>(
      usable.map((g) => [g.name, view.get(key(g)) ?? { healthy: true, since: Number.NEGATIVE_INFINITY, recovered: false }]),
    );
    // The remote cluster's own choice first: the gateway that says it holds the lease and answers our probes. Our
    // probes alone can disagree with the remote nodes after a blip only we saw (measured: a 15 ms remote blip held
    // that gateway down here for the whole hold-down while its own nodes kept using it, and the tunnel dropped
    // their replies: 2.1 s of cross-cluster outage). The claim in its probe replies comes first (the epoch it holds
    // as it answers, no broker round trip; two claimants during a handover: the higher epoch), then the one in its
    // broker record (the newest record). A claimant we probe down loses the CIDRs at once: probes stay the fast path.
    const answering = usable.filter((g) => health.get(g.name)?.healthy === true);
    const probed = leaseClaimant(answering.map(key), this.claims, () => true);
    const claimant =
      answering.find((g) => key(g) === probed) ??
      answering.filter((g) => g.active === true).sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt))[0];
    if (claimant) {
      this.chosen.set(cluster, claimant.name);
      return claimant.name;
    }
    const elected = electActive({
      candidates: usable.map((g) => ({ name: g.name, priority: g.priority })),
      health,
      now: (p.clock ?? (() => performance.now()))(),
      holdDownMs: p.holdDownMs,
      mode: 'active-standby',
    })[0];
    // Every candidate probed down (this gateway cut off, or a stalled event loop missing replies): keep the last
    // choice rather than fall back to the broker's view, which still names the gateway that just failed.
    const last = this.chosen.get(cluster);
    const pick = elected ?? (last !== undefined && usable.some((g) => g.name === last) ? last : undefined);
    if (pick !== undefined) this.chosen.set(cluster, pick);
    return pick;
  }

  private async syncOnce(report: boolean): Promise<void> {
    await this.ensureProber().catch((e: unknown) => this.o.log.warn({ err: e }, 'tunnels: starting remote probes failed'));
    const now = (this.o.now ?? Date.now)();
    const plan = planTunnelPeers({
      cluster: this.o.cluster,
      type: this.o.type,
      gateways: [...this.gateways.values()],
      clusters: [...this.clusters.values()],
      now,
      staleMs: this.o.staleMs ?? 8000,
      ...(this.o.probe ? { choose: (c: string, u: readonly BrokerGatewayView[]) => this.choose(c, u) } : {}),
    });
    const want = JSON.stringify(plan.peers);
    let changed = false;
    if (want !== this.applied) {
      try {
        const t0 = performance.now();
        await this.o.driver.reconcile(plan.peers);
        this.applied = want;
        this.lastError = undefined;
        changed = true;
        this.o.log.info({ active: plan.active, peers: plan.peers.map((p) => p.id), skipped: plan.skipped, ms: Math.round(performance.now() - t0) }, 'tunnels reconciled');
      } catch (e) {
        this.lastError = (e as Error).message;
        this.o.log.warn({ err: this.lastError }, 'tunnels: reconcile failed; retrying on the next tick');
      }
    }
    this.lastPlan = plan;
    if (changed || report || this.lastError) this.report();
  }

  /**
   * Status reports run beside the reconcile loop, never in it: a driver slow to answer (strongSwan busy
   * negotiating) must not hold back the next reconcile. One at a time; a request meanwhile runs once more after.
   */
  private report(): void {
    if (!this.o.onStatus || this.stopped) return;
    if (this.reporting) {
      this.reportAgain = true;
      return;
    }
    this.reporting = true;
    void (async () => {
      do {
        this.reportAgain = false;
        const tunnel = await this.o.driver.status().catch(() => undefined);
        const plan = this.lastPlan;
        if (tunnel && plan && !this.stopped) {
          this.o.onStatus?.({ type: this.o.type, active: plan.active, skipped: plan.skipped, tunnel, ...(this.lastError ? { error: this.lastError } : {}), at: (this.o.now ?? Date.now)() });
        }
      } while (this.reportAgain && !this.stopped);
      this.reporting = false;
    })();
  }
}
