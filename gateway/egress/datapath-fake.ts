import type {
  GatewayEgress, GatewayEgressConfig, NodeEgress, NodeEgressConfig, NodeMasquerade, NodeMasqueradeIntent, NodeRoutes, NodeRoutesIntent,
} from './datapath.js';
import { normalizeMasqueradeIntent } from './node-masquerade-nft.js';

/** One recorded datapath call, for tests that assert what an agent asked for. */
export interface DatapathCall {
  readonly op: string;
  readonly args: unknown;
  readonly at: number;
}

/** Recording fakes: keep the intended state in memory with the same semantics as the Linux implementations. */
export class RecordingNodeRoutes implements NodeRoutes {
  readonly calls: DatapathCall[] = [];
  private routes = new Map<string, string[]>();

  ensure(intent: NodeRoutesIntent): Promise<void> {
    this.calls.push({ op: 'ensure', args: intent, at: performance.now() });
    const next = new Map<string, string[]>();
    if (intent.nexthops.length > 0) {
      const nhs = intent.mode === 'active-active' ? [...intent.nexthops] : [intent.nexthops[0] ?? ''];
      for (const c of intent.remoteCidrs) next.set(c, nhs);
    }
    this.routes = next;
    return Promise.resolve();
  }

  current(): Promise<Map<string, string[]>> {
    return Promise.resolve(new Map([...this.routes].map(([k, v]) => [k, [...v]])));
  }

  clear(): Promise<void> {
    this.calls.push({ op: 'clear', args: undefined, at: performance.now() });
    this.routes.clear();
    return Promise.resolve();
  }
}

export class RecordingNodeEgress implements NodeEgress {
  readonly calls: DatapathCall[] = [];
  private gateways = new Set<string>();
  private candidates = new Set<string>();
  private steered = new Map<string, string | null>();

  apply(config: NodeEgressConfig): Promise<void> {
    this.calls.push({ op: 'apply', args: config, at: performance.now() });
    this.gateways = new Set(config.rules.map((r) => r.gateway));
    this.candidates = new Set(config.candidates.map((c) => c.name));
    const next = new Map<string, string | null>();
    for (const g of this.gateways) next.set(g, this.steered.get(g) ?? null);
    this.steered = next;
    return Promise.resolve();
  }

  steer(active: ReadonlyMap<string, string | undefined>): Promise<void> {
    this.calls.push({ op: 'steer', args: new Map(active), at: performance.now() });
    for (const [g, c] of active) {
      if (!this.gateways.has(g)) continue;
      this.steered.set(g, c !== undefined && this.candidates.has(c) ? c : null);
    }
    return Promise.resolve();
  }

  current(): Promise<Map<string, string | null>> {
    return Promise.resolve(new Map(this.steered));
  }

  clear(): Promise<void> {
    this.calls.push({ op: 'clear', args: undefined, at: performance.now() });
    this.gateways.clear();
    this.steered.clear();
    return Promise.resolve();
  }
}

export class RecordingNodeMasquerade implements NodeMasquerade {
  readonly calls: DatapathCall[] = [];
  private installed: NodeMasqueradeIntent | undefined;

  ensure(intent: NodeMasqueradeIntent): Promise<void> {
    this.calls.push({ op: 'ensure', args: intent, at: performance.now() });
    // Normalising parses: a bad CIDR rejects here as it does in the Linux datapath, and changes nothing.
    try {
      this.installed = normalizeMasqueradeIntent(intent);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return Promise.resolve();
  }

  forget(sources: readonly string[]): Promise<void> {
    this.calls.push({ op: 'forget', args: [...sources], at: performance.now() });
    return Promise.resolve();
  }

  current(): Promise<NodeMasqueradeIntent | undefined> {
    return Promise.resolve(this.installed);
  }

  clear(): Promise<void> {
    this.calls.push({ op: 'clear', args: undefined, at: performance.now() });
    this.installed = undefined;
    return Promise.resolve();
  }
}

/** Fake gateway egress with a real notion of time: live IPs expire like kernel fence elements. */
export class RecordingGatewayEgress implements GatewayEgress {
  readonly calls: DatapathCall[] = [];
  /** IPs announced (gratuitous ARP / unsolicited NA), in order. */
  readonly announced: string[] = [];
  private managed = new Set<string>();
  private readonly liveUntil = new Map<string, number>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  apply(config: GatewayEgressConfig): Promise<void> {
    this.calls.push({ op: 'apply', args: config, at: this.clock() });
    // Same egress IPs, other rules: live IPs stay live (the Linux datapath swaps only its rules then).
    const same = [...this.managed].sort().join(',') === [...config.egressIps].sort().join(',');
    this.managed = new Set(config.egressIps);
    if (!same) this.liveUntil.clear();
    return Promise.resolve();
  }

  private liveNow(): string[] {
    const now = this.clock();
    return [...this.liveUntil].filter(([ip, t]) => t > now && this.managed.has(ip)).map(([ip]) => ip).sort();
  }

  serve(ips: readonly string[], until: number): Promise<string[]> {
    this.calls.push({ op: 'serve', args: { ips: [...ips], until }, at: this.clock() });
    if (until <= this.clock()) return Promise.resolve([]);
    const before = new Set(this.liveNow());
    const fresh: string[] = [];
    for (const ip of ips) {
      if (!this.managed.has(ip)) continue;
      this.liveUntil.set(ip, until);
      if (!before.has(ip)) {
        fresh.push(ip);
        this.announced.push(ip);
      }
    }
    return Promise.resolve(fresh);
  }

  release(ips?: readonly string[]): Promise<void> {
    this.calls.push({ op: 'release', args: ips ? [...ips] : undefined, at: this.clock() });
    for (const ip of ips ?? [...this.liveUntil.keys()]) this.liveUntil.delete(ip);
    return Promise.resolve();
  }

  live(): Promise<string[]> {
    return Promise.resolve(this.liveNow());
  }

  clear(): Promise<void> {
    this.calls.push({ op: 'clear', args: undefined, at: this.clock() });
    this.liveUntil.clear();
    this.managed.clear();
    return Promise.resolve();
  }
}
