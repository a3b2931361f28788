import { firstListing, followBroker, type Cluster, type IPPool, type List, type WatchEvent } from '../../api/index.js';
import type { Logger } from '../../host/index.js';
import type { ClusterNetworks } from './node-masquerade-plan.js';

/** The broker calls the source uses (BrokerClient has them; a cluster's credential may make them). */
export interface ClusterNetworkBrokerClient {
  listClusters(): Promise<List<Cluster>>;
  listPools(): Promise<List<IPPool>>;
  watch(since: string | number, onEvent: (e: WatchEvent) => void, signal?: AbortSignal): Promise<void>;
}

export interface ClusterNetworkSourceOptions {
  readonly broker: ClusterNetworkBrokerClient;
  readonly log: Logger;
  /** Called with every state that differs from the previous one (not for the first: start() returns it). */
  readonly onChange?: (n: ClusterNetworks) => Promise<void> | void;
  /** Pause between attempts while the broker cannot be read at start, and after a watch break. */
  readonly retryMs?: number;
}

/**
 * Every joined cluster's pod and service CIDRs and every pool's CIDR at the broker, kept current: lists them,
 * follows the watch stream (re-listing after a break) and reports each change (a cluster joining or leaving, a
 * pool created or deleted). Only what the node masquerade plans with is kept.
 */
export class ClusterNetworkSource {
  private readonly clusters = new Map<string, ClusterNetworks['clusters'][number]>();
  private readonly pools = new Map<string, ClusterNetworks['pools'][number]>();
  private readonly abort = new AbortController();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private lastKey = '';
  private reporting: Promise<void> = Promise.resolve();
  private started = false;
  /** Events of a shared stream that arrived during a list. */
  private held: WatchEvent[] | undefined;
  private relisting: Promise<void> = Promise.resolve();

  constructor(private readonly o: ClusterNetworkSourceOptions) {}

  /** The latest state. */
  get networks(): ClusterNetworks {
    return {
      clusters: [...this.clusters.values()].sort((a, b) => a.id.localeCompare(b.id)),
      pools: [...this.pools.values()].sort((a, b) => a.name.localeCompare(b.name)),
    };
  }

  /**
   * Lists once (retrying while the broker cannot be reached; a refusal fails at once), then follows in the
   * background: with its own watch, or (`ownWatch: false`) from the events and re-lists another follower of the
   * stream hands it (`onEvent`, `onRelisted`; the egress source's watch, started before this list: events it
   * replays from before the list end in the current state).
   */
  async start(o: { ownWatch?: boolean } = {}): Promise<ClusterNetworks> {
    const rv = await firstListing({
      relist: () => this.relist(), stopped: () => this.stopped, ...(this.o.retryMs !== undefined ? { retryMs: this.o.retryMs } : {}),
      onRetry: (err, attempt) => this.o.log.warn({ err, attempt }, 'masquerade: cannot list the broker\'s clusters yet; retrying'),
    });
    const first = this.networks;
    this.lastKey = JSON.stringify(first);
    this.started = true;
    if (o.ownWatch === false) return first;
    this.loop = followBroker({
      since: rv, watch: (since, f, signal) => this.o.broker.watch(since, f, signal), relist: () => this.relist(),
      onEvent: (e) => this.onEvent(e), onRelisted: () => this.report(), stopped: () => this.stopped, signal: this.abort.signal,
      onBreak: (e) => this.o.log.warn({ err: e }, 'masquerade: broker watch broke; re-listing'),
      ...(this.o.retryMs !== undefined ? { retryMs: this.o.retryMs } : {}),
    });
    return first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop?.catch(() => undefined);
    await this.relisting;
    await this.reporting;
  }

  /**
   * Lists both kinds and replaces the copy. Events that arrive meanwhile (a shared stream goes on during the list)
   * are held and applied afterwards when newer than the lists: in order, they end in the current state.
   */
  private async relist(): Promise<string> {
    this.held = [];
    try {
      const rv = await this.listBoth();
      for (const e of this.held) if (Number(e.resourceVersion) > Number(rv)) this.apply(e);
      return rv;
    } finally {
      this.held = undefined;
    }
  }

  private async listBoth(): Promise<string> {
    // Both answered before either is used or thrown: no request outlives a failed relist.
    const [cr, pr] = await Promise.allSettled([this.o.broker.listClusters(), this.o.broker.listPools()]);
    if (cr.status === 'rejected') throw cr.reason;
    if (pr.status === 'rejected') throw pr.reason;
    const [c, p] = [cr.value, pr.value];
    this.clusters.clear();
    this.pools.clear();
    for (const x of c.items) this.setCluster(x);
    for (const x of p.items) this.setPool(x);
    // Resume after the older list: an event seen twice is harmless.
    return String(Math.min(Number(c.resourceVersion), Number(p.resourceVersion)));
  }

  private setCluster(x: Cluster): void {
    this.clusters.set(x.id, { id: x.id, podCIDRs: [...x.podCIDRs], serviceCIDRs: [...x.serviceCIDRs] });
  }

  private setPool(x: IPPool): void {
    this.pools.set(x.name, { name: x.name, cidr: x.cidr, purpose: x.purpose, ...(x.cluster !== undefined ? { cluster: x.cluster } : {}) });
  }

  /** The shared stream was re-listed (its log compacted past the watch): list the clusters and pools again. */
  onRelisted(): void {
    if (!this.started || this.stopped) return;
    this.relisting = this.relisting.then(async () => {
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          await this.relist();
          this.report();
          return;
        } catch (e) {
          this.o.log.warn({ err: e, attempt }, 'masquerade: re-listing the broker\'s clusters failed; retrying');
          await new Promise((r) => setTimeout(r, this.o.retryMs ?? 1000));
        }
      }
    });
  }

  /** One event of the watch stream (its own, or the one it shares). */
  onEvent(e: WatchEvent): void {
    if (this.held) {
      this.held.push(e);
      return;
    }
    if (this.started && this.apply(e)) this.report();
  }

  /** Applies a Cluster or IPPool event to the copy; false for other kinds. */
  private apply(e: WatchEvent): boolean {
    if (e.kind === 'Cluster') {
      const x = e.object as unknown as Cluster;
      if (e.type === 'DELETED') this.clusters.delete(x.id);
      else this.setCluster(x);
    } else if (e.kind === 'IPPool') {
      const x = e.object as unknown as IPPool;
      if (e.type === 'DELETED') this.pools.delete(x.name);
      else this.setPool(x);
    } else {
      return false;
    }
    return true;
  }

  /** Reports the state when it changed (a heartbeat rewrites the Cluster record: nothing the plan reads changes). */
  private report(): void {
    const n = this.networks;
    const key = JSON.stringify(n);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.reporting = this.reporting
      .then(() => this.o.onChange?.(n))
      .catch((e: unknown) => this.o.log.error({ err: e }, 'masquerade: applying the clusters\' networks failed'));
  }
}
