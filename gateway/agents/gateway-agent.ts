import type { Logger } from '../../host/index.js';
import type { AgentStatus } from './agent-status.js';
import type { CandidateAddress } from './agent-argv.js';
import type { CandidateProber, EchoResponder } from '../failover/candidate-prober.js';
import type { GatewayEgress, GatewayEgressConfig } from '../egress/datapath.js';
import { electActive, HealthTracker, type CandidateHealth } from '../failover/election.js';
import { SchedulerLateness } from '../failover/failure-detector.js';
import { FenceRefreshWatch } from '../failover/fence-refresh.js';
import { DEFAULT_JITTER_MEMORY_MS, LEASE_STALL_MEMORY_MS, SETTLED_HOLD_MS, TieredMax, type StallMemory } from '../failover/recent-max.js';
import { adaptiveLeaseTtlMs, LeaseKeeper, type LeaseStep } from '../failover/lease-keeper.js';
import type { LeaseStore } from '../failover/lease-store.js';
import type { FailoverProfile } from '../failover/profiles.js';

/** Silence from every prober after which a gateway counts itself cut off from its nodes (see tick()). */
export function isolationWindowMs(p: FailoverProfile): number {
  return Math.max(500, 4 * p.probeIntervalMs * (p.misses + 1), 2 * p.maxDetectionMs);
}

/**
 * The broker entry is refreshed this often even without a change: its `updatedAt` then tells readers whether the
 * agent is still alive (a SIGKILLed gateway cannot mark itself Unhealthy), and a broker that lost the entry or was
 * down when it changed gets it again.
 */
export const PUBLISH_REFRESH_MS = 2000;
/** How long start-up waits for its first publish (see start()). */
export const START_PUBLISH_WAIT_MS = 1000;

export interface GatewayAgentConfig {
  readonly cluster: string;
  readonly name: string;
  readonly profile: FailoverProfile;
  /** Every candidate of the cluster, this one included. */
  readonly candidates: readonly CandidateAddress[];
  readonly probePort: number;
  /** The EgressGateway this candidate serves (one lease per EgressGateway); undefined: no egress, lease still fences the role. */
  readonly egress?: { readonly gateway: string; readonly config: GatewayEgressConfig };
}

/** Everything with side effects comes in here, so tests can run the agent on fakes and a fake clock. */
export interface GatewayAgentDeps {
  readonly leaseStore: LeaseStore;
  readonly egress: GatewayEgress;
  readonly prober: CandidateProber;
  readonly responder: EchoResponder;
  readonly log: Logger;
  readonly clock?: () => number;
  /** False while this gateway cannot do its job (e.g. its WAN link is down): it then steps down and falls silent. */
  readonly selfHealthy?: () => boolean;
  /**
   * Publishes this gateway (endpoint, priority, health, and whether it holds the lease) to the broker; failures are
   * logged, never fatal. The other clusters' gateways follow `active` to pick this cluster's gateway.
   */
  readonly publish?: (health: 'Healthy' | 'Unhealthy', active: boolean) => Promise<void>;
  readonly writeStatus?: (s: AgentStatus) => void;
}

/**
 * The gateway agent's control loop. Each tick: elect over the probe view (peers by probe, itself by `selfHealthy`);
 * if elected, acquire or renew the lease and keep the egress IPs live exactly as long as the lease allows; if not,
 * drop the egress IPs first and then release the lease. Ticks run every `renewIntervalMs` while active,
 * `acquireRetryMs` while trying to take over, `probeIntervalMs` otherwise.
 */
export class GatewayAgent {
  private readonly clock: () => number;
  private readonly tracker: HealthTracker;
  private readonly keeper: LeaseKeeper;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  /** A scheduled tick is running; `kicked`: run the next one at once when it is done. */
  private ticking = false;
  private kicked = false;
  /** When the scheduled tick was due, and how late this agent's own timers fire (monotonic clock). */
  private dueAt: number | undefined;
  private readonly lateness: SchedulerLateness;
  /** How long this holder's fence refreshes take, and whether one came after the fence it replaced had run out. */
  private readonly fenceWatch: FenceRefreshWatch;
  /** Since when this agent has held the lease without a break (undefined: it does not hold it). */
  private holdingSince: number | undefined;
  private isolatedVerdict = false;
  private lastTtlMs = 0;
  private lastLateLogAt = Number.NEGATIVE_INFINITY;
  private dropTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private servingIps: string[] = [];
  private lastStatus = '';
  private switches = 0;
  private lastActive: string | undefined;
  private selfWasHealthy = true;
  private selfRecovered = false;
  private lastPublishAt = Number.NEGATIVE_INFINITY;
  private publishing = false;
  /** The publish in flight: stop() waits for it, or a late PUT would bring back a record deleted after the stop. */
  private publishRun: Promise<void> = Promise.resolve();
  private publishAgain = false;
  private datapath: Promise<void> = Promise.resolve();
  private datapathBusy = false;
  private datapathDirty = false;
  readonly leaseKey: string;

  constructor(
    private readonly cfg: GatewayAgentConfig,
    private readonly deps: GatewayAgentDeps,
  ) {
    this.clock = deps.clock ?? (() => performance.now());
    this.tracker = new HealthTracker(cfg.profile.misses);
    this.leaseKey = cfg.egress ? `egress/${cfg.cluster}/${cfg.egress.gateway}` : `gateway/${cfg.cluster}`;
    // The holder's stall estimates (they only feed the TTL): 30 s, and 3 minutes for what it saw once its hold had
    // settled (recent-max.ts, LEASE_STALL_MEMORY_MS and SETTLED_HOLD_MS).
    const memory = (): StallMemory =>
      new TieredMax(DEFAULT_JITTER_MEMORY_MS, LEASE_STALL_MEMORY_MS, (at) => this.holdingSince !== undefined && at - this.holdingSince >= SETTLED_HOLD_MS);
    this.keeper = new LeaseKeeper(deps.leaseStore, this.leaseKey, cfg.name, cfg.profile, this.clock, memory());
    this.startedAt = this.clock();
    // A stall as long as the longest lease is an outage of this process (SIGSTOP, a frozen VM): it lost the lease
    // whatever it asked for, and stretching every later lease for it only slowed the next failover.
    // The lateness memory only feeds the TTL (the late/on-time verdict uses recent ticks): the holder's memory.
    this.lateness = new SchedulerLateness(cfg.profile.renewIntervalMs, memory(), cfg.profile.maxLeaseTtlMs);
    this.fenceWatch = new FenceRefreshWatch(memory(), cfg.profile.maxLeaseTtlMs);
  }

  async start(): Promise<void> {
    // Joining while another candidate holds the lease is a comeback: hold ourselves down like every observer does,
    // or we would snatch the lease the moment one of the holder's renewals runs late.
    try {
      const held = await this.deps.leaseStore.read(this.leaseKey);
      this.selfRecovered = held !== null && held.holder !== this.cfg.name;
    } catch {
      this.selfRecovered = true;
    }
    if (this.cfg.egress) await this.deps.egress.apply(this.cfg.egress.config);
    // Published (not active) before this gateway answers a single probe: the other clusters follow a gateway that
    // says it holds the lease and answers them, and the record this agent left behind when it died may still say
    // so. A broker that does not answer within a second does not hold the start up.
    await Promise.race([this.publish(), new Promise((r) => setTimeout(r, START_PUBLISH_WAIT_MS).unref())]);
    // Every probe reply says whether this gateway holds the lease (its epoch), as of the moment it answers.
    this.deps.responder.claims(() => (this.keeper.serving() ? (this.keeper.hold.epoch ?? 0) : 0));
    await this.deps.responder.start();
    const peers = this.cfg.candidates.filter((c) => c.name !== this.cfg.name);
    await this.deps.prober.start(
      peers.map((c) => ({ name: c.name, address: c.address, port: this.cfg.probePort })),
      (name, up, at, evidence) => {
        // A peer that turns up while we serve is joining while another holds the role: a comeback, exactly as it
        // judges itself (see above). Both sides must hold it down, or we would hand over to a peer that waits out
        // its own hold-down first and nobody would serve meanwhile (the case when we never saw it up before).
        if (up) this.tracker.markUp(name, at, this.keeper.serving());
        else this.tracker.markDown(name, at);
        this.deps.log.info({ peer: name, up, ...evidence }, 'peer health changed');
        // Act on a death now: a standby's next tick may be a whole probe interval away (30 ms in the default
        // profile), time the egress IP stays dark. Seen in the quiet bench: acquisitions 23-58 ms after the verdict
        // where the old holder's lease had already run out.
        if (!up) this.kick();
      },
    );
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.dueAt = this.clock() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ticking = true;
      this.tick().then(
        (next) => this.afterTick(next),
        (e: unknown) => {
          this.deps.log.error({ err: e }, 'gateway agent tick failed');
          this.afterTick(this.cfg.profile.probeIntervalMs);
        },
      );
    }, ms);
  }

  private afterTick(next: number): void {
    this.ticking = false;
    const now = this.kicked;
    this.kicked = false;
    this.schedule(now ? 0 : next);
  }

  /** Runs the next control step at once instead of when it is due; one step at a time (a running one is followed). */
  private kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.kicked = true;
      return;
    }
    if (this.timer === undefined) return; // not started yet, or stopping
    clearTimeout(this.timer);
    this.schedule(0);
  }

  /**
   * The election view including this gateway itself: held down after a comeback (see start()). Views of different
   * observers need not agree for long: the lease arbitrates.
   */
  private view(selfOk: boolean): Map<string, CandidateHealth> {
    const m = new Map(this.tracker.view());
    // A peer the prober has not judged yet (the first few intervals after start) counts as healthy and settled:
    // otherwise a restarted gateway sees itself as the lone survivor and grabs the role from a live peer whose
    // renewal happens to run late, before a single probe could tell it that the peer is fine.
    for (const c of this.cfg.candidates) {
      if (c.name !== this.cfg.name && !m.has(c.name)) m.set(c.name, { healthy: true, since: Number.NEGATIVE_INFINITY, recovered: false });
    }
    m.set(this.cfg.name, { healthy: selfOk, since: this.startedAt, recovered: this.selfRecovered });
    return m;
  }

  /** One control step; returns ms until the next. Exposed for tests (`dueAt`: when it was due; default: as scheduled). */
  async tick(dueAt?: number): Promise<number> {
    const p = this.cfg.profile;
    const now = this.clock();
    const due = dueAt ?? this.dueAt;
    this.dueAt = undefined;
    // A tick that fired late means this process was not scheduled: no verdict on silence from it (below).
    const seen = due !== undefined ? this.lateness.observe(now, due) : undefined;
    const late = seen?.late ?? false;
    // Evidence for the scenario reports (at most one line a second): how long this agent itself was not scheduled.
    if (seen?.late && now - this.lastLateLogAt >= 1000) {
      this.lastLateLogAt = now;
      this.deps.log.info({ latenessMs: Math.round(seen.latenessMs) }, 'gateway agent ran late');
    }
    if (this.deps.publish && !this.publishing && now - this.lastPublishAt >= PUBLISH_REFRESH_MS) void this.publish();
    // Cut off: once probed, a gateway that hears no probe for (misses + 1) intervals has lost its nodes (LAN down,
    // partition) even though it may still reach the lease store; it must let a reachable standby take over.
    // The window is generous (≥ 500 ms): after an event-loop stall, timers run before pending probe datagrams are
    // read, and a false "isolated" would hand the egress IPs away for nothing.
    // A late tick keeps the previous verdict: it runs before the poll phase reads the probes waiting in the socket.
    const lastProbe = this.deps.responder.lastProbeAt();
    // At least twice the failure detector's maximum: a standby whose only prober is the peer that just died must
    // find the peer dead (≤ maxDetectionMs) before it finds itself cut off, or it never takes over.
    if (!late) this.isolatedVerdict = lastProbe !== undefined && performance.now() - lastProbe > isolationWindowMs(p);
    const isolated = this.isolatedVerdict;
    const devicesOk = this.deps.selfHealthy?.() ?? true;
    const selfOk = devicesOk && !isolated;
    if (selfOk !== this.selfWasHealthy) {
      this.selfWasHealthy = selfOk;
      this.deps.log.warn({ devicesOk, isolated }, selfOk ? 'gateway healthy again' : 'gateway unhealthy: stepping down');
      // Fall silent only for our own device failures; an isolated gateway receives no probes to answer anyway.
      this.deps.responder.serving(devicesOk);
      void this.publish();
    }
    const elected = electActive({
      candidates: this.cfg.candidates, health: this.view(selfOk), now, holdDownMs: p.holdDownMs, mode: 'active-standby',
    });
    if (elected[0] !== this.lastActive) {
      this.lastActive = elected[0];
      this.switches += 1;
    }
    const want = elected[0] === this.cfg.name;
    let step: LeaseStep = 'idle';
    if (want) {
      // The lease loop never waits for the datapath: a slow `nft` must not delay the next renewal. The TTL asked
      // for covers the longest stall seen lately (30 s; 3 minutes for one seen once its hold had settled, see
      // recent-max.ts), within the profile. While it serves, the holder measures it end to end: how old its fence
      // was when the next refresh was in force, one renewal interval being the plan (fence-refresh.ts). Before that
      // (a takeover, no egress IPs): its own lateness plus the store's answer time, each at its worst, which is
      // more than they ever were together.
      const ownStallMs = this.lateness.maxMs(now);
      const storeMs = this.keeper.maxRttMs();
      const fenceAgeMs = this.fenceWatch.maxAgeMs(now);
      const stallMs = fenceAgeMs > 0 ? Math.max(fenceAgeMs - p.renewIntervalMs, ownStallMs) : ownStallMs + storeMs;
      const ttlMs = adaptiveLeaseTtlMs(p, stallMs);
      // Evidence for the scenario reports: every change of the TTL asked for, with what widened it.
      if (ttlMs !== this.lastTtlMs) {
        this.lastTtlMs = ttlMs;
        this.deps.log.info({ ttlMs, ownStallMs: Math.round(ownStallMs), storeMs: Math.round(storeMs), fenceAgeMs: Math.round(fenceAgeMs) }, 'lease ttl');
      }
      step = await this.keeper.step(true, ttlMs);
      this.syncDatapath();
      if (!this.keeper.serving()) this.holdingSince = undefined;
      else this.holdingSince ??= now;
    } else if (this.keeper.hold.epoch !== undefined || this.servingIps.length) {
      // Stepping down is the one place that waits: egress IPs must be gone before the lease is released.
      await this.datapath;
      this.holdingSince = undefined;
      step = await this.keeper.stepDown(() => this.drop());
    }
    if (step === 'acquired' || step === 'reacquired' || step === 'lost' || step === 'released') {
      this.deps.log.info({ step, epoch: this.keeper.hold.epoch }, 'lease');
      // The role changed: tell the other clusters now, not at the next refresh.
      void this.publish();
    }
    this.report();
    // Renewals at a fixed rate from when the last one was sent: the store's answer time must not add to the period.
    if (this.keeper.serving()) return Math.max(0, Math.min(p.renewIntervalMs, this.keeper.lastSentAt + p.renewIntervalMs - this.clock()));
    // Waiting for a lease held elsewhere: the retry grid, but the last retry before the lease runs out lands 1 ms
    // after it does. On the grid alone a dead holder's lease ran out 0-15 ms before the next try (seen: the standby
    // acquired 20-40 ms after the old lease had run out in link-down and partition trials). Never longer than the
    // grid: a holder that hands over releases early, and its release cannot be read ahead.
    if (want && step === 'taken' && this.keeper.heldForMs !== undefined) return Math.max(1, Math.min(p.acquireRetryMs, this.keeper.heldForMs + 1));
    return want ? p.acquireRetryMs : p.probeIntervalMs;
  }

  /** Brings the egress datapath in line with the lease, one run at a time, coalescing requests made meanwhile. */
  private syncDatapath(): void {
    if (this.datapathBusy) {
      this.datapathDirty = true;
      return;
    }
    this.datapathBusy = true;
    this.datapath = (async () => {
      do {
        this.datapathDirty = false;
        try {
          if (this.keeper.serving()) await this.serve();
          else if (this.servingIps.length) await this.drop();
        } catch (e) {
          this.deps.log.error({ err: e }, 'egress datapath update failed');
        }
      } while (this.datapathDirty && !this.stopped);
      this.datapathBusy = false;
    })();
  }

  /** Resolves once no datapath update is running (tests, step-down). */
  async idle(): Promise<void> {
    await this.datapath;
  }

  private async serve(): Promise<void> {
    const ips = this.cfg.egress?.config.egressIps ?? [];
    // Set first: if serving fails halfway, a later drop still cleans up.
    this.servingIps = [...ips];
    if (ips.length) {
      // An absolute deadline: however late the datapath gets to it, the fence never outlives the lease.
      const until = this.keeper.hold.validUntil;
      const grantedAt = this.keeper.hold.grantSentAt;
      const startedAt = this.clock();
      const fresh = await this.deps.egress.serve(ips, until);
      const lapse = this.fenceWatch.refreshed(startedAt, this.clock(), until, grantedAt);
      // Evidence for the scenario reports: an egress gap with no role change is explained here or nowhere.
      if (lapse) {
        const r = (x: number): number => Math.round(x * 10) / 10;
        this.deps.log.warn({ darkMsAtMost: r(lapse.darkMsAtMost), darkMsAtLeast: r(lapse.darkMsAtLeast), refreshMs: r(lapse.refreshMs) }, 'egress fence lapsed');
      }
      if (fresh.length) this.deps.log.info({ ips: fresh, epoch: this.keeper.hold.epoch }, 'egress IPs now served here');
    }
    // Belt and braces: the kernel fence already expires on its own; this also removes the addresses.
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.dropTimer = setTimeout(() => {
      if (!this.keeper.serving() && !this.stopped) this.syncDatapath();
    }, this.keeper.remainingMs() + 1);
  }

  private async drop(): Promise<void> {
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.fenceWatch.reset();
    if (this.servingIps.length === 0) return;
    const ips = this.servingIps;
    this.servingIps = [];
    await this.deps.egress.release(ips);
    this.deps.log.info({ ips }, 'egress IPs dropped');
  }

  /** One publish at a time; a change while one is in flight is published right after it (latest state wins). */
  private publish(): Promise<void> {
    if (!this.deps.publish || this.stopped) return Promise.resolve();
    if (this.publishing) {
      this.publishAgain = true;
      return this.publishRun;
    }
    this.publishing = true;
    const run = (async () => {
      try {
        do {
          this.publishAgain = false;
          this.lastPublishAt = this.clock();
          try {
            await this.deps.publish?.(this.selfWasHealthy ? 'Healthy' : 'Unhealthy', this.keeper.serving());
          } catch (e) {
            this.deps.log.warn({ err: e }, 'publishing to the broker failed');
          }
        } while (this.publishAgain && !this.stopped);
      } finally {
        this.publishing = false;
      }
    })();
    this.publishRun = run;
    return run;
  }

  status(): AgentStatus {
    const health: Record<string, boolean> = {};
    for (const [k, v] of this.tracker.view()) health[k] = v.healthy;
    health[this.cfg.name] = this.selfWasHealthy;
    return {
      kind: 'gateway', cluster: this.cfg.cluster, name: this.cfg.name, pid: process.pid,
      role: this.keeper.serving() ? 'active' : 'standby', epoch: this.keeper.hold.epoch,
      egressIps: [...this.servingIps], active: this.lastActive ? [this.lastActive] : [], health,
      switches: this.switches, updatedAt: new Date().toISOString(),
    };
  }

  private report(): void {
    if (!this.deps.writeStatus) return;
    const s = this.status();
    const key = JSON.stringify({ ...s, updatedAt: '' });
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    this.deps.writeStatus(s);
  }

  /** Graceful stop: drop egress IPs, then release the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.datapath;
    await this.keeper.stepDown(() => this.drop()).catch(() => undefined);
    if (this.dropTimer) clearTimeout(this.dropTimer);
    await this.deps.prober.stop();
    await this.deps.responder.stop();
    await this.publishRun;
    this.report();
  }
}
