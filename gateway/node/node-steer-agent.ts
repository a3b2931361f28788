import type { Logger } from '../../host/index.js';
import type { AgentStatus } from '../agents/agent-status.js';
import type { CandidateAddress } from '../agents/agent-argv.js';
import type { CandidateProber } from '../failover/candidate-prober.js';
import type { NodeEgress, NodeEgressConfig, NodeRoutes } from '../egress/datapath.js';
import { electActive, HealthTracker, leaseClaimant, type GatewayMode } from '../failover/election.js';
import type { FailoverProfile } from '../failover/profiles.js';

/** How long a node keeps steering to its last gateway(s) while none is healthy (see `evaluate`). */
export function noGatewayGraceMs(p: FailoverProfile): number {
  return Math.max(200, p.probeIntervalMs * p.misses * 5);
}

export interface NodeSteerConfig {
  readonly cluster: string;
  readonly name: string;
  readonly profile: FailoverProfile;
  readonly mode: GatewayMode;
  readonly candidates: readonly CandidateAddress[];
  readonly probePort: number;
  readonly remoteCidrs: readonly string[];
  /** Egress steering (rules for EgressGateways whose candidates are `candidates`); undefined: routes only. */
  readonly egress?: NodeEgressConfig;
}

export interface NodeSteerDeps {
  readonly routes: NodeRoutes;
  readonly egress: NodeEgress;
  readonly prober: CandidateProber;
  readonly log: Logger;
  readonly clock?: () => number;
  readonly writeStatus?: (s: AgentStatus) => void;
}

/**
 * Node-side steering: probes every gateway candidate of the cluster at the profile interval and, the moment the
 * election result changes, moves remote-cluster routes (one next hop, or a resilient ECMP group in active-active
 * mode) and egress steering (the EgressGateway table's default route) to the elected gateway(s).
 */
export class NodeSteerAgent {
  private readonly clock: () => number;
  private readonly tracker: HealthTracker;
  private active: string[] = [];
  private switches = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;
  private startedAt = 0;
  /** Lease epoch each candidate's replies claim (0 or absent: none; leaseClaimant ignores 0). */
  private readonly claims = new Map<string, number>();

  constructor(
    private readonly cfg: NodeSteerConfig,
    private readonly deps: NodeSteerDeps,
  ) {
    this.clock = deps.clock ?? (() => performance.now());
    this.tracker = new HealthTracker(cfg.profile.misses);
  }

  async start(): Promise<void> {
    if (this.cfg.egress) await this.deps.egress.apply(this.cfg.egress);
    this.startedAt = this.clock();
    const p = this.cfg.profile;
    await this.deps.prober.start(
      this.cfg.candidates.map((c) => ({ name: c.name, address: c.address, port: this.cfg.probePort })),
      (name, up, at, evidence) => {
        // A candidate first seen up after start-up, while this node already steers to another one, is joining
        // while another holds the role: a comeback, held down here exactly as its own agent holds itself down
        // (gateway-agent.ts). Steering to it at once would send egress to a gateway that does not serve the
        // egress IP yet. Within the first probe rounds every live candidate answers: no hold-down there.
        const lateJoin = at - this.startedAt > p.probeIntervalMs * (p.misses + 1) && this.active.length > 0 && !this.active.includes(name);
        if (up) this.tracker.markUp(name, at, lateJoin);
        else this.tracker.markDown(name, at);
        // The verdict's evidence (threshold, credited silence, own stall) says where a slow detection went.
        this.deps.log.info({ gateway: name, up, ...evidence }, 'gateway health changed');
        this.kick();
      },
      (name, epoch) => {
        this.claims.set(name, epoch);
        this.deps.log.info({ gateway: name, epoch }, epoch > 0 ? 'gateway holds the lease' : 'gateway holds no lease');
        this.kick();
      },
    );
    // Re-evaluate periodically too: a hold-down ends without any probe event.
    this.timer = setInterval(() => this.kick(), Math.max(50, this.cfg.profile.probeIntervalMs * 5));
    this.kick();
  }

  /** Serialises re-evaluations so route updates never interleave. */
  private kick(): void {
    if (this.stopped) return;
    this.busy = this.busy.then(() => this.evaluate()).catch((e: unknown) => this.deps.log.error({ err: e }, 'steering failed'));
  }

  /** Recomputes the election and moves routes when it changed. Exposed for tests. */
  async evaluate(): Promise<void> {
    const now = this.clock();
    const claimant = this.claimant();
    let elected = claimant
      ? [claimant]
      : electActive({ candidates: this.cfg.candidates, health: this.tracker.view(), now, holdDownMs: this.cfg.profile.holdDownMs, mode: this.cfg.mode });
    // No healthy gateway at all: keep the current one(s) for a grace period before removing routes. On a loaded
    // host the lone survivor's probes miss now and then; blackholing on each such blip turned one failover into
    // several outages. A gateway that is really gone carries nothing either way; after the grace the routes go
    // (an unreachable route fails fast, a dead next hop does not).
    if (elected.length === 0 && this.active.length > 0) {
      this.noneSince ??= now;
      if (now - this.noneSince < noGatewayGraceMs(this.cfg.profile)) elected = this.active;
    } else if (elected.length > 0) {
      this.noneSince = undefined;
    }
    const health = this.healthSignature();
    const healthChanged = health !== this.lastHealth;
    this.lastHealth = health;
    if (elected.join(',') === this.active.join(',')) {
      // Routes stay, but the status file must still say which gateways are up: labs and operators wait on it.
      if (healthChanged) this.deps.writeStatus?.(this.status());
      return;
    }
    const prev = this.active;
    this.active = elected;
    this.switches += 1;
    const addr = new Map(this.cfg.candidates.map((c) => [c.name, c.address]));
    // Egress steering and cross-cluster routes move together: two `ip` runs side by side, not one after the other.
    const moves: Promise<void>[] = [];
    if (this.cfg.egress) {
      const gws = new Set(this.cfg.egress.rules.map((r) => r.gateway));
      moves.push(this.deps.egress.steer(new Map([...gws].map((g) => [g, elected[0]]))));
    }
    if (this.cfg.remoteCidrs.length) {
      moves.push(this.deps.routes.ensure({ remoteCidrs: this.cfg.remoteCidrs, nexthops: elected.map((n) => addr.get(n) ?? '').filter(Boolean), mode: this.cfg.mode }));
    }
    await Promise.all(moves);
    this.deps.log.info({ from: prev, to: elected, ms: Math.round(this.clock() - now) }, 'steered');
    this.deps.writeStatus?.(this.status());
  }

  /**
   * Active-standby: the answering candidate whose replies say it holds the cluster's gateway lease (the newest
   * epoch if two do, during a handover). It serves the egress IPs and the other clusters route to it, so the node
   * follows it whatever its own probes said a moment ago: a blip only this node saw must not hold the real
   * gateway down for a hold-down while traffic goes to a standby that serves nothing (measured before: 2 s of
   * outage). Probes stay the fast path: a claimant that stops answering is dropped at once, and with no claimant
   * (the holder died, its lease not yet taken over) the election picks the standby that is about to take it.
   */
  private claimant(): string | undefined {
    if (this.cfg.mode !== 'active-standby') return undefined;
    const view = this.tracker.view();
    return leaseClaimant(this.cfg.candidates.map((c) => c.name), this.claims, (n) => view.get(n)?.healthy === true);
  }

  private lastHealth = '';
  private noneSince: number | undefined;

  private healthSignature(): string {
    return [...this.tracker.view()].map(([k, v]) => `${k}=${v.healthy ? 1 : 0}`).sort().join(',');
  }

  status(): AgentStatus {
    const health: Record<string, boolean> = {};
    for (const [k, v] of this.tracker.view()) health[k] = v.healthy;
    return {
      kind: 'node-steer', cluster: this.cfg.cluster, name: this.cfg.name, pid: process.pid, egressIps: [],
      active: [...this.active], health, switches: this.switches, updatedAt: new Date().toISOString(),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.deps.prober.stop();
    await this.busy;
  }
}
