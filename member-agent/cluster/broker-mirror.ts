import {
  isStraitError, type BrokerClient, type BrokerEgressClusterPolicy, type BrokerEgressGateway, type BrokerEgressPolicy,
  type AddressLease, type Cluster, type Gateway, type IPPool, type ReservedIP, type Subnet, type WatchEvent,
} from '../../api/index.js';
import type { BrokerView } from './sync-plan.js';
import type { EgressBrokerView } from './egress-push-plan.js';

/**
 * A local copy of the broker's Subnets, IPPools, Gateways and Clusters, kept current by the broker's watch: list,
 * then watch from the list's resourceVersion; on a dropped connection re-watch from the last event seen; on 410
 * (WATCH_EXPIRED) list again. An event older than the copy's object is ignored, so replays do no harm.
 * Of the egress objects it keeps only this cluster's own (the ones the agent pushes), and of the address leases
 * only this cluster's egress IPs (owner `egress:<cluster>:…`, what the egress statuses report); ReservedIPs all.
 */
export class BrokerMirror implements BrokerView, EgressBrokerView {
  subnets = new Map<string, Subnet>();
  pools = new Map<string, IPPool>();
  gateways = new Map<string, Gateway>();
  clusters = new Map<string, Cluster>();
  egressGateways = new Map<string, BrokerEgressGateway>();
  egressPolicies = new Map<string, BrokerEgressPolicy>();
  egressClusterPolicies = new Map<string, BrokerEgressClusterPolicy>();
  reservedIPs = new Map<string, ReservedIP>();
  /** This cluster's egress IP leases, keyed by ip. */
  egressLeases = new Map<string, AddressLease>();
  since = '';
  connected = false;
  listed = false;
  lastError: string | undefined;
  relists = 0;
  private abort: AbortController | undefined;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: BrokerClient,
    private readonly onChange: () => void,
    private readonly retryMs = 500,
    /** This cluster's id: egress objects of other clusters are not kept. */
    private readonly cluster = '',
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    await this.loop;
  }

  /** Updates the copy with an object the agent itself just wrote (so the next plan sees it before the event). */
  remember(kind: 'IPPool' | 'Gateway' | 'EgressGateway' | 'EgressPolicy' | 'EgressClusterPolicy' | 'ReservedIP', obj: IPPool | Gateway | BrokerEgressGateway | BrokerEgressPolicy | BrokerEgressClusterPolicy | ReservedIP): void {
    this.apply({ type: 'MODIFIED', kind, object: obj as unknown as Record<string, unknown>, resourceVersion: obj.resourceVersion });
  }

  /** Drops an object the agent itself just deleted at the broker (the watch event follows). */
  forget(kind: 'IPPool' | 'Gateway' | 'EgressGateway' | 'EgressPolicy' | 'EgressClusterPolicy' | 'ReservedIP', key: string): void {
    const tables = { IPPool: this.pools, Gateway: this.gateways, EgressGateway: this.egressGateways, EgressPolicy: this.egressPolicies, EgressClusterPolicy: this.egressClusterPolicies, ReservedIP: this.reservedIPs } as const;
    (tables[kind] as Map<string, unknown>).delete(key);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!this.listed) await this.relist();
        this.abort = new AbortController();
        this.connected = true;
        await this.client.watch(this.since, (e) => this.apply(e), this.abort.signal);
      } catch (e) {
        this.connected = false;
        if (isStraitError(e, 'WATCH_EXPIRED')) {
          this.listed = false;
          continue;
        }
        this.lastError = e instanceof Error ? e.message : String(e);
        this.onChange();
      }
      if (this.running) await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  private async relist(): Promise<void> {
    const own = { cluster: this.cluster };
    const [s, p, g, c, eg, ep, ecp, r, leases] = await Promise.all([
      this.client.listSubnets(), this.client.listPools(), this.client.listGateways(), this.client.listClusters(),
      this.client.listEgressGateways(own), this.client.listEgressPolicies(own), this.client.listEgressClusterPolicies(own),
      this.client.listReservedIPs(), this.client.listAddresses(own),
    ]);
    this.subnets = new Map(s.items.map((x) => [x.name, x]));
    this.pools = new Map(p.items.map((x) => [x.name, x]));
    this.gateways = new Map(g.items.map((x) => [`${x.cluster}/${x.name}`, x]));
    this.clusters = new Map(c.items.map((x) => [x.id, x]));
    this.egressGateways = new Map(eg.items.map((x) => [x.name, x]));
    this.egressPolicies = new Map(ep.items.map((x) => [`${x.namespace}/${x.name}`, x]));
    this.egressClusterPolicies = new Map(ecp.items.map((x) => [x.name, x]));
    this.reservedIPs = new Map(r.items.map((x) => [x.name, x]));
    this.egressLeases = new Map(leases.items.filter((x) => this.isEgressLease(x)).map((x) => [x.ip, x]));
    this.since = [s, p, g, c, eg, ep, ecp, r, leases].map((l) => l.resourceVersion).reduce((a, b) => (BigInt(a) < BigInt(b) ? a : b));
    this.listed = true;
    this.relists++;
    this.lastError = undefined;
    this.onChange();
  }

  private apply(e: WatchEvent): void {
    if (BigInt(e.resourceVersion || '0') > BigInt(this.since || '0')) this.since = e.resourceVersion;
    if (e.type === 'BOOKMARK') return;
    const o = e.object as Record<string, unknown>;
    const table = this.tableOf(e.kind, o);
    if (!table) return;
    const [map, key] = table;
    const prev = map.get(key) as { resourceVersion?: string } | undefined;
    if (prev?.resourceVersion && BigInt(prev.resourceVersion) > BigInt(e.resourceVersion || '0')) return;
    if (e.type === 'DELETED') map.delete(key);
    else map.set(key, o);
    this.onChange();
  }

  private isEgressLease(o: { owner?: unknown; cluster?: unknown }): boolean {
    return o.cluster === this.cluster && typeof o.owner === 'string' && o.owner.startsWith(`egress:${this.cluster}:`);
  }

  private tableOf(kind: string, o: Record<string, unknown>): [Map<string, unknown>, string] | undefined {
    switch (kind) {
      case 'Subnet':
        return [this.subnets as Map<string, unknown>, String(o.name)];
      case 'IPPool':
        return [this.pools as Map<string, unknown>, String(o.name)];
      case 'Gateway':
        return [this.gateways as Map<string, unknown>, `${String(o.cluster)}/${String(o.name)}`];
      case 'Cluster':
        return [this.clusters as Map<string, unknown>, String(o.id)];
      case 'EgressGateway':
        return o.cluster === this.cluster ? [this.egressGateways as Map<string, unknown>, String(o.name)] : undefined;
      case 'EgressPolicy':
        return o.cluster === this.cluster ? [this.egressPolicies as Map<string, unknown>, `${String(o.namespace)}/${String(o.name)}`] : undefined;
      case 'EgressClusterPolicy':
        return o.cluster === this.cluster ? [this.egressClusterPolicies as Map<string, unknown>, String(o.name)] : undefined;
      case 'ReservedIP':
        return [this.reservedIPs as Map<string, unknown>, String(o.name)];
      case 'AddressLease':
        return this.isEgressLease(o) ? [this.egressLeases as Map<string, unknown>, String(o.ip)] : undefined;
      default:
        return undefined;
    }
  }
}
