import { createSerial } from '../../host/index.js';
import type { CandidateAddress } from '../agents/agent-argv.js';
import type { GatewayEgress, GatewayEgressConfig, NodeEgress, NodeEgressConfig } from './datapath.js';
import type { EgressRule, ResolvedEgress } from './egress-resolve.js';


/** A gateway egress config whose content changes in place when the broker's objects change. */
export interface LiveGatewayEgressConfig {
  rules: EgressRule[];
  egressIps: string[];
}

/** The rules and egress IPs of one EgressGateway in a resolution. */
export function gatewayEgressConfig(r: ResolvedEgress, gateway: string): LiveGatewayEgressConfig {
  return { rules: r.rules.filter((x) => x.gateway === gateway), egressIps: [...(r.gateways.find((g) => g.name === gateway)?.egressIps ?? [])] };
}

/**
 * Gateway egress whose config follows the broker. The agent holds `config` (the same object) and reads its egress
 * IPs on every renewal; `update` swaps the content, re-applies the SNAT rules, drops IPs no longer wanted and — when
 * this gateway is serving — makes the wanted ones live again at once with the deadline of the lease it last renewed
 * (never later).
 */
export class LiveGatewayEgress implements GatewayEgress {
  private readonly run = createSerial(); // datapath calls and config updates never interleave
  private servingUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly inner: GatewayEgress,
    readonly config: LiveGatewayEgressConfig,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Applies `config` and makes it the current one (the agent passes `this.config` itself: a no-op copy). */
  apply(config: GatewayEgressConfig = this.config): Promise<void> {
    const rules = [...config.rules];
    const egressIps = [...config.egressIps];
    return this.run(() => {
      this.config.rules = rules;
      this.config.egressIps = egressIps;
      return this.inner.apply({ rules: [...rules], egressIps: [...egressIps] });
    });
  }

  serve(ips: readonly string[], until: number): Promise<string[]> {
    this.servingUntil = until;
    // An IP dropped from the config meanwhile is not made live again by a renewal that was already under way.
    return this.run(() => this.inner.serve(ips.filter((ip) => this.config.egressIps.includes(ip)), until));
  }

  release(ips?: readonly string[]): Promise<void> {
    this.servingUntil = Number.NEGATIVE_INFINITY;
    return this.run(() => this.inner.release(ips));
  }

  live(): Promise<string[]> {
    return this.inner.live();
  }

  clear(): Promise<void> {
    return this.run(() => this.inner.clear());
  }

  update(next: LiveGatewayEgressConfig): Promise<void> {
    return this.run(async () => {
      // Nothing changed for this gateway (the broker came back, a relist, another gateway's policy): touch nothing.
      // Applying rebuilds the tables, so the fence would go dark until the serve below, for no reason at all.
      if (sameGatewayConfig(this.config, next)) return;
      const removed = this.config.egressIps.filter((ip) => !next.egressIps.includes(ip));
      this.config.rules = [...next.rules];
      this.config.egressIps = [...next.egressIps];
      const full: GatewayEgressConfig = { rules: [...next.rules], egressIps: [...next.egressIps] };
      await this.inner.apply(full);
      if (removed.length) await this.inner.release(removed);
      // Applying rebuilds the fence (nothing is live afterwards): when serving, make every wanted IP live again now.
      if (this.servingUntil > this.clock() && next.egressIps.length) await this.inner.serve(next.egressIps, this.servingUntil);
    });
  }
}

function sameGatewayConfig(a: LiveGatewayEgressConfig, b: LiveGatewayEgressConfig): boolean {
  return JSON.stringify([a.rules, [...a.egressIps].sort()]) === JSON.stringify([b.rules, [...b.egressIps].sort()]);
}

/** A node egress config whose rules change in place when the broker's objects change. */
export interface LiveNodeEgressConfig {
  rules: EgressRule[];
  candidates: CandidateAddress[];
  clusterCidrs: string[];
}

/**
 * Node egress whose rules follow the broker. The steering agent holds `config` (the same object) and steers every
 * EgressGateway named in its rules to the elected candidate; `update` swaps the rules, re-applies marks and routing
 * and steers the new set to the candidate the agent last chose (`noteActive` tells it when no rule existed yet).
 */
export class LiveNodeEgress implements NodeEgress {
  private readonly run = createSerial(); // datapath calls and config updates never interleave
  private target: string | undefined;
  private known = false;

  constructor(
    private readonly inner: NodeEgress,
    readonly config: LiveNodeEgressConfig,
  ) {}

  /** Applies `config` and makes it the current one (the agent passes `this.config` itself: a no-op copy). */
  apply(config: NodeEgressConfig = this.config): Promise<void> {
    const next = { rules: [...config.rules], candidates: [...config.candidates], clusterCidrs: [...config.clusterCidrs] };
    return this.run(() => {
      this.config.rules = next.rules;
      this.config.candidates = next.candidates;
      this.config.clusterCidrs = next.clusterCidrs;
      return this.inner.apply(this.snapshot());
    });
  }

  steer(active: ReadonlyMap<string, string | undefined>): Promise<void> {
    if (active.size > 0) {
      this.target = [...active.values()][0];
      this.known = true;
    }
    return this.run(() => this.inner.steer(active));
  }

  current(): Promise<Map<string, string | null>> {
    return this.inner.current();
  }

  clear(): Promise<void> {
    return this.run(() => this.inner.clear());
  }

  /** The steering agent's elected candidate (from its status), for rules that appear later. */
  noteActive(candidate: string | undefined): void {
    this.target = candidate;
    this.known = true;
  }

  update(rules: readonly EgressRule[]): Promise<void> {
    return this.run(async () => {
      // Same rules (a relist after the broker came back): re-applying would rebuild marks and routing under traffic.
      if (JSON.stringify(this.config.rules) === JSON.stringify(rules)) return;
      this.config.rules = [...rules];
      await this.inner.apply(this.snapshot());
      if (this.known) await this.inner.steer(new Map([...new Set(rules.map((r) => r.gateway))].map((g) => [g, this.target])));
    });
  }

  private snapshot(): NodeEgressConfig {
    return { rules: [...this.config.rules], candidates: [...this.config.candidates], clusterCidrs: [...this.config.clusterCidrs] };
  }
}
