import { describe, it, expect } from '@jest/globals';
import { pino } from 'pino';
import { createLogger } from '../../host/index.js';
import { GatewayAgent } from './gateway-agent.js';
import { MemoryLeaseStore } from '../failover/lease-memory.js';
import { PROFILES, type FailoverProfile } from '../failover/profiles.js';
import { DEFAULT_JITTER_MEMORY_MS, LEASE_STALL_MEMORY_MS, SETTLED_HOLD_MS } from '../failover/recent-max.js';
import { eventually } from '../../testing/index.js';
import { ManualProber, RecordingGatewayEgress, SilentResponder } from '../testing.js';

const EIP = '172.31.0.201';
const profile = PROFILES.default;
const candidates = [
  { name: 'gw1', address: '10.0.0.11', priority: 100 },
  { name: 'gw2', address: '10.0.0.12', priority: 50 },
];

/** Two agents on one lease store, on a fake clock (`advance`) unless a clock is given; `profile` by default. */
function setup(o: { profile?: FailoverProfile; clock?: () => number } = {}) {
  let now = 0;
  const clock = o.clock ?? ((): number => now);
  const store = new MemoryLeaseStore(clock);
  const mk = (name: string) => {
    const egress = new RecordingGatewayEgress(clock);
    const prober = new ManualProber();
    const responder = new SilentResponder();
    const agent = new GatewayAgent(
      { cluster: 'c', name, profile: o.profile ?? profile, candidates, probePort: 1, egress: { gateway: 'egw', config: { rules: [], egressIps: [EIP] } } },
      { leaseStore: store, egress, prober, responder, log: createLogger(name, 'silent'), clock },
    );
    return { agent, egress, prober, responder };
  };
  const gw1 = mk('gw1');
  const gw2 = mk('gw2');
  /** Both agents' served egress IPs once their datapath is idle; never the egress IP on both (the invariant). */
  const live = async (): Promise<{ a: string[]; b: string[] }> => {
    await gw1.agent.idle();
    await gw2.agent.idle();
    const [a, b] = [await gw1.egress.live(), await gw2.egress.live()];
    expect(a.includes(EIP) && b.includes(EIP)).toBe(false);
    return { a, b };
  };
  return { advance: (ms: number) => { now += ms; }, now: () => now, gw1, gw2, live, store };
}

/**
 * gw1 started and holding the lease; `renew(n, stallFirstMs)` runs n renewals on time, the first one `stallFirstMs`
 * late; `asked()` is the TTL its last renewal asked the store for.
 */
async function holding(t: ReturnType<typeof setup>): Promise<{ asked: () => Promise<number>; renew: (n: number, stallFirstMs?: number) => Promise<void> }> {
  await t.gw1.agent.start();
  t.gw1.prober.onChange?.('gw2', true, 0);
  await t.gw1.agent.tick(t.now());
  return {
    asked: async () => (await t.store.read(t.gw1.agent.leaseKey))?.remainingMs ?? 0,
    renew: async (n, stallFirstMs = 0) => {
      for (let i = 0; i < n; i++) {
        const due = t.now() + profile.renewIntervalMs;
        t.advance(profile.renewIntervalMs + (i === 0 ? stallFirstMs : 0));
        await t.gw1.agent.tick(due);
      }
    },
  };
}

describe('GatewayAgent (fakes, fake clock)', () => {
  it('its probe replies claim the lease epoch while it serves, and nothing once the lease ran out, tick or no tick', async () => {
    const t = setup();
    await t.gw1.agent.start();
    t.gw1.prober.onChange?.('gw2', true, 0);
    expect(t.gw1.responder.epoch()).toBe(0);
    await t.gw1.agent.tick();
    const epoch = t.gw1.agent.status().epoch;
    expect(epoch).toBeGreaterThan(0);
    expect(t.gw1.responder.epoch()).toBe(epoch);
    // A stalled agent (no ticks): its replies stop claiming when its hold ends, not when it next runs.
    t.advance(profile.leaseTtlMs);
    expect(t.gw1.responder.epoch()).toBe(0);
    await t.gw1.agent.stop();
  });

  it('highest priority serves the egress IP; on its death the standby takes over only after the lease, never overlapping', async () => {
    const t = setup();
    await t.gw1.agent.start();
    await t.gw2.agent.start();
    t.gw1.prober.onChange?.('gw2', true, 0);
    t.gw2.prober.onChange?.('gw1', true, 0);
    for (let i = 0; i < 10; i++) {
      await t.gw1.agent.tick();
      await t.gw2.agent.tick();
      await t.live();
      t.advance(profile.renewIntervalMs);
    }
    expect(await t.gw1.egress.live()).toEqual([EIP]);
    expect(t.gw1.egress.announced).toEqual([EIP]);
    // gw1 dies (no more ticks, no release). gw2 notices by probe and tries at once, but waits for the lease.
    t.gw2.prober.onChange?.('gw1', false, t.now());
    let tookOver = -1;
    for (let ms = 0; ms <= 2 * profile.leaseTtlMs; ms += 5) {
      await t.gw2.agent.tick();
      await t.live();
      if (tookOver < 0 && (await t.gw2.egress.live()).includes(EIP)) tookOver = ms;
      t.advance(5);
    }
    expect(tookOver).toBeGreaterThan(0);
    expect(tookOver).toBeLessThanOrEqual(profile.leaseTtlMs + 10);
    expect(t.gw2.agent.status().role).toBe('active');
    expect(t.gw2.egress.announced).toEqual([EIP]); // gratuitous ARP on the move
    await t.gw1.agent.stop();
    await t.gw2.agent.stop();
  });

  it('a standby waiting for a dead holder\'s lease tries again 1 ms after it runs out, not on its retry grid', async () => {
    const t = setup();
    await t.gw1.agent.start();
    await t.gw2.agent.start();
    t.gw1.prober.onChange?.('gw2', true, 0);
    t.gw2.prober.onChange?.('gw1', true, 0);
    for (let i = 0; i < 5; i++) {
      await t.gw1.agent.tick();
      await t.gw2.agent.tick();
      t.advance(profile.renewIntervalMs);
    }
    // gw1's last renewal was sent at now − renewInterval; the store holds it until then + TTL.
    const expiresAt = t.now() - profile.renewIntervalMs + profile.leaseTtlMs;
    t.gw2.prober.onChange?.('gw1', false, t.now());
    try {
      // Far from the expiry: the grid.
      expect(await t.gw2.agent.tick(t.now())).toBe(profile.acquireRetryMs);
      // Closer than one retry interval: exactly 1 ms after the lease runs out (the grid would have been later).
      t.advance(expiresAt - t.now() - 7);
      expect(await t.gw2.agent.tick(t.now())).toBe(8);
      t.advance(8);
      await t.gw2.agent.tick(t.now());
      expect(t.gw2.agent.status().role).toBe('active');
      expect((await t.live()).b).toEqual([EIP]);
    } finally {
      await t.gw1.agent.stop();
      await t.gw2.agent.stop();
    }
  });

  it('a recovered higher-priority gateway waits for the hold-down, then takes over by handover (no expiry wait)', async () => {
    const t = setup();
    await t.gw2.agent.start();
    t.gw2.prober.onChange?.('gw1', true, 0);
    t.gw2.prober.onChange?.('gw1', false, 1); // gw1 was up, then died: its comeback is a recovery
    for (let i = 0; i < 5; i++) { await t.gw2.agent.tick(); t.advance(profile.renewIntervalMs); }
    expect(await t.gw2.egress.live()).toEqual([EIP]);
    await t.gw1.agent.start();
    t.gw1.prober.onChange?.('gw2', true, t.now());
    const back = t.now();
    t.gw2.prober.onChange?.('gw1', true, back);
    let handedOver = -1;
    while (t.now() - back < profile.holdDownMs + 1000) {
      await t.gw2.agent.tick();
      await t.gw1.agent.tick();
      const { a } = await t.live();
      if (handedOver < 0 && a.includes(EIP)) handedOver = t.now() - back;
      t.advance(profile.renewIntervalMs);
    }
    expect(handedOver).toBeGreaterThanOrEqual(profile.holdDownMs);
    expect(handedOver).toBeLessThan(profile.holdDownMs + profile.leaseTtlMs);
    await t.gw1.agent.stop();
    await t.gw2.agent.stop();
  });
  it('a restarted gateway does not grab the role before its first probe verdict, even if the holder renews late', async () => {
    const t = setup();
    await t.gw2.agent.start();
    t.gw2.prober.onChange?.('gw1', true, 0);
    t.gw2.prober.onChange?.('gw1', false, 1);
    for (let i = 0; i < 5; i++) { await t.gw2.agent.tick(); t.advance(profile.renewIntervalMs); }
    expect(await t.gw2.egress.live()).toEqual([EIP]);
    // gw1 comes back. Before its prober has said anything about gw2, gw2 stalls past its lease (a loaded host).
    await t.gw1.agent.start();
    t.advance(profile.leaseTtlMs + 10);
    for (let i = 0; i < 5; i++) { await t.gw1.agent.tick(); t.advance(profile.acquireRetryMs); }
    await t.gw1.agent.idle();
    expect(await t.gw1.egress.live()).toEqual([]);
    expect(t.gw1.agent.status().role).toBe('standby');
    // gw2 wakes up: its lease has run out in the store, but nobody took it, so it gets it again at once.
    await t.gw2.agent.tick();
    await t.gw2.agent.tick();
    expect(t.gw2.agent.status().role).toBe('active');
    // Once the prober has judged gw2 dead, gw1 is the lone survivor and takes over despite its hold-down.
    t.gw1.prober.onChange?.('gw2', false, t.now());
    await t.gw2.agent.stop();
    for (let i = 0; i < 5; i++) { await t.gw1.agent.tick(); t.advance(profile.acquireRetryMs); }
    await t.gw1.agent.idle();
    expect(await t.gw1.egress.live()).toEqual([EIP]);
    await t.gw1.agent.stop();
  });
  it('a higher-priority gateway that joins while a peer serves (never seen up by it) is held down on both sides: the egress IP is never left unserved', async () => {
    const t = setup();
    await t.gw2.agent.start();
    t.gw2.prober.onChange?.('gw1', false, 0); // gw2 started alone: gw1 judged down without ever being seen up
    for (let i = 0; i < 5; i++) { await t.gw2.agent.tick(); t.advance(profile.renewIntervalMs); }
    expect(await t.gw2.egress.live()).toEqual([EIP]);
    await t.gw1.agent.start();
    const back = t.now();
    t.gw1.prober.onChange?.('gw2', true, back);
    t.gw2.prober.onChange?.('gw1', true, back);
    let handedOver = -1;
    let unserved = 0;
    try {
      while (t.now() - back < profile.holdDownMs + 1000) {
        await t.gw2.agent.tick();
        await t.gw1.agent.tick();
        const { a, b } = await t.live();
        if (!a.includes(EIP) && !b.includes(EIP)) unserved += profile.renewIntervalMs;
        if (handedOver < 0 && a.includes(EIP)) handedOver = t.now() - back;
        t.advance(profile.renewIntervalMs);
      }
    } finally {
      await t.gw1.agent.stop();
      await t.gw2.agent.stop();
    }
    expect(handedOver).toBeGreaterThanOrEqual(profile.holdDownMs);
    expect(unserved).toBeLessThanOrEqual(profile.renewIntervalMs); // only the handover tick itself
  });

  /**
   * gw1 takes the lease, then renews `ticks` times, each tick `lateBy(i)` ms late; counts the ticks at which it was
   * not serving (its fence had lapsed), with its epoch before and after (the same: it never lost the lease).
   */
  async function holdThrough(ticks: number, lateBy: (i: number) => number): Promise<{ lapses: number; epoch: number | undefined; epochAfter: number | undefined }> {
    const t = setup();
    await t.gw1.agent.start();
    t.gw1.prober.onChange?.('gw2', true, 0);
    await t.gw1.agent.tick(t.now());
    const epoch = t.gw1.agent.status().epoch;
    let lapses = 0;
    try {
      for (let i = 0; i < ticks; i++) {
        const due = t.now() + profile.renewIntervalMs;
        t.advance(profile.renewIntervalMs + lateBy(i));
        if (t.gw1.agent.status().role !== 'active') lapses += 1;
        await t.gw1.agent.tick(due);
      }
      return { lapses, epoch, epochAfter: t.gw1.agent.status().epoch };
    } finally {
      await t.gw1.agent.stop();
    }
  }

  it('a holder whose own renewals run late now and then (nothing else wrong) keeps its fence after the first stall', async () => {
    // Every tenth renewal runs late by 20 ms more than ttl − margin − renew (default: 100 ms, the fence lapses)
    // and less than ttl − renew (the store still holds the lease). The first one lapses the fence (nothing learnt
    // yet); then the holder asks the store for a TTL that covers the stalls it has seen (adaptiveLeaseTtlMs) and
    // serves straight through. With a fixed TTL every such stall dropped the egress IP.
    const stall = profile.leaseTtlMs - profile.safetyMarginMs - profile.renewIntervalMs + 20;
    expect(profile.renewIntervalMs + stall).toBeLessThan(profile.leaseTtlMs);
    const { lapses, epoch, epochAfter } = await holdThrough(200, (i) => (i % 10 === 5 ? stall : 0));
    expect(lapses).toBe(1);
    expect(epochAfter).toBe(epoch);
  });

  it('a holder whose vCPU the host stops for 100 ms every 10 s keeps its fence after the first freeze', async () => {
    // Seen in `steady` under --stress cpu=8: the holder dropped and re-served its egress IP 2-13 ms apart, 4 times in
    // 120 s, each time right after "ran late" by 87-91 ms, and each time after its TTL had shrunk back to the base
    // 150 ms because the previous freeze was more than 3 s ago. The host stops a vCPU for ~100 ms every 1-10 s.
    const freeze = 100;
    const every = Math.round(10_000 / profile.renewIntervalMs);
    expect(profile.leaseTtlMs - profile.safetyMarginMs - profile.renewIntervalMs).toBeLessThan(freeze);
    const { lapses, epoch, epochAfter } = await holdThrough(4 * every, (i) => (i % every === every / 2 ? freeze : 0));
    expect(lapses).toBe(1);
    expect(epochAfter).toBe(epoch);
  });

  it('a holder whose fence transaction is slow now and then says so, and keeps its fence after the first slow one', async () => {
    // Seen in a stressed 10-minute `steady` run (fast profile): one 62 ms egress gap, no role change, the holder on
    // time and its store quick, and nothing in its log. The fence is refreshed by a transaction after each renewal,
    // and the TTL covered the holder's lateness and the store's answer time, not that transaction: a slow one let the
    // old fence run out first, every time, silently. Here every tenth refresh is committed 100 ms after it began
    // (the renewals go on meanwhile; the lease itself is never in danger, the store answers at once).
    const slow = 100;
    expect(slow).toBeGreaterThan(profile.leaseTtlMs - profile.safetyMarginMs - profile.renewIntervalMs);
    let now = 0;
    const clock = (): number => now;
    let serves = 0;
    let lapses = 0;
    const landing: { at: number; land: () => void }[] = [];
    class SlowFence extends RecordingGatewayEgress {
      override async serve(ips: readonly string[], until: number): Promise<string[]> {
        if (++serves % 10 === 5) {
          await new Promise<void>((land) => landing.push({ at: now + slow, land }));
          if (!(await this.live()).includes(EIP)) lapses += 1; // the old fence ran out before this one was in force
        }
        return super.serve(ips, until);
      }
    }
    const logged: { msg: string; darkMsAtMost?: number }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string }) });
    const agent = new GatewayAgent(
      { cluster: 'c', name: 'gw1', profile, candidates, probePort: 1, egress: { gateway: 'egw', config: { rules: [], egressIps: [EIP] } } },
      { leaseStore: new MemoryLeaseStore(clock), egress: new SlowFence(clock), prober: new ManualProber(), responder: new SilentResponder(), log, clock },
    );
    await agent.start();
    try {
      await agent.tick(now);
      for (let i = 0; i < 200; i++) {
        const due = now + profile.renewIntervalMs;
        now += profile.renewIntervalMs;
        await agent.tick(due);
        for (const l of landing.filter((x) => x.at <= now)) l.land();
        landing.splice(0, landing.length, ...landing.filter((x) => x.at > now));
        if (landing.length === 0) await agent.idle();
        else await new Promise((r) => setImmediate(r));
      }
      expect(serves).toBeGreaterThan(100);
      // The first slow refresh lapses (nothing learnt yet) and is reported; the TTL then covers the transaction too.
      expect(lapses).toBe(1);
      const reported = logged.filter((l) => l.msg === 'egress fence lapsed');
      expect(reported).toHaveLength(1);
      expect(reported[0]?.darkMsAtMost).toBeGreaterThan(0);
      expect(agent.status().role).toBe('active');
    } finally {
      for (const l of landing) l.land();
      await agent.stop();
    }
  });

  it('a store answer slower than the longest lease (the first connect, a store restart) stretches no later lease', async () => {
    const t = setup();
    const acquire = t.store.acquire.bind(t.store);
    let firstConnect = true;
    t.store.acquire = async (key, holder, ttlMs) => {
      if (firstConnect) t.advance(profile.maxLeaseTtlMs + 100);
      firstConnect = false;
      return acquire(key, holder, ttlMs);
    };
    await t.gw1.agent.start();
    t.gw1.prober.onChange?.('gw2', true, 0);
    try {
      await t.gw1.agent.tick(t.now());
      for (let i = 0; i < 5; i++) {
        const due = t.now() + profile.renewIntervalMs;
        t.advance(profile.renewIntervalMs);
        await t.gw1.agent.tick(due);
      }
      expect(t.gw1.agent.status().role).toBe('active');
      expect((await t.store.read(t.gw1.agent.leaseKey))?.remainingMs).toBe(profile.leaseTtlMs);
    } finally {
      await t.gw1.agent.stop();
    }
  });

  it('a stall widens the lease only for the memory; an outage of the holder (SIGSTOP) widens nothing', async () => {
    // Seen in the scenario runs: one stall (the restart, a SIGSTOP, a takeover's own work) stretched every lease to
    // the 600 ms ceiling for the next 500 renewals, so a holder that died seconds later was replaced only then.
    const t = setup();
    const { asked, renew } = await holding(t);
    try {
      await renew(20);
      expect(await asked()).toBe(profile.leaseTtlMs);
      // A 150 ms stall: the next leases cover it...
      let due = t.now() + profile.renewIntervalMs;
      t.advance(profile.renewIntervalMs + 150);
      await t.gw1.agent.tick(due);
      expect(await asked()).toBeGreaterThan(profile.leaseTtlMs);
      // ...for the memory, not for the next 500 renewals.
      await renew(Math.ceil(DEFAULT_JITTER_MEMORY_MS / profile.renewIntervalMs) + 2);
      expect(await asked()).toBe(profile.leaseTtlMs);
      // Frozen for 3 s (SIGSTOP): the lease is gone whatever it had asked for; the comeback asks the base TTL again.
      due = t.now() + profile.renewIntervalMs;
      t.advance(3000);
      await t.gw1.agent.tick(due);
      expect(t.gw1.agent.status().role).toBe('active');
      expect(await asked()).toBe(profile.leaseTtlMs);
    } finally {
      await t.gw1.agent.stop();
    }
  });

  it('a stall during a settled hold widens the lease for 3 minutes; one during the hold\'s first 30 s for 30 s', async () => {
    // Under --stress cpu=8 the stalls that lapse a floor fence come 50-117 s apart: a holder that forgot one after
    // 30 s dropped its egress IP for the next. A takeover's own stalls say nothing about the host: remembered that
    // long, the quiet bench's holders ran on the stalls of their own start-ups (p99 111 -> 218 ms).
    const t = setup();
    const { asked, renew } = await holding(t);
    const ticks = (ms: number): number => Math.ceil(ms / profile.renewIntervalMs);
    try {
      await renew(ticks(1000), 120); // a stall in the hold's first second
      expect(await asked()).toBeGreaterThan(profile.leaseTtlMs);
      await renew(ticks(DEFAULT_JITTER_MEMORY_MS + 1000));
      expect(await asked()).toBe(profile.leaseTtlMs);
      await renew(ticks(SETTLED_HOLD_MS), 120); // the same stall once the hold has settled
      await renew(ticks(DEFAULT_JITTER_MEMORY_MS + 1000));
      expect(await asked()).toBeGreaterThan(profile.leaseTtlMs);
      await renew(ticks(LEASE_STALL_MEMORY_MS - DEFAULT_JITTER_MEMORY_MS));
      expect(await asked()).toBe(profile.leaseTtlMs);
    } finally {
      await t.gw1.agent.stop();
    }
  });

  it('a renewal refused because the holder was so late that its lease ran out is followed by an acquire at once', async () => {
    const t = setup();
    await t.gw1.agent.start();
    t.gw1.prober.onChange?.('gw2', true, 0);
    await t.gw1.agent.tick(t.now());
    const epoch = t.gw1.agent.status().epoch ?? 0;
    try {
      t.advance(profile.maxLeaseTtlMs + 1); // nobody took it meanwhile
      await t.gw1.agent.tick(t.now());
      expect(t.gw1.agent.status().role).toBe('active');
      expect(t.gw1.agent.status().epoch).toBeGreaterThan(epoch);
      expect((await t.live()).a).toEqual([EIP]);
    } finally {
      await t.gw1.agent.stop();
    }
  });
});

describe('GatewayAgent (fakes, real timers)', () => {
  it('a standby acts on a peer-down verdict at once, not at its next scheduled tick', async () => {
    // Ticks a minute apart: without acting on the verdict the standby would only try again a minute later.
    const { gw1, gw2 } = setup({ profile: { ...profile, probeIntervalMs: 60_000, acquireRetryMs: 60_000 }, clock: () => performance.now() });
    await gw1.agent.start();
    await gw2.agent.start();
    try {
      await eventually('gw1 serves', async () => (await gw1.egress.live()).includes(EIP), 5_000);
      // gw1 goes away (releasing its lease); gw2's prober calls it down.
      await gw1.agent.stop();
      gw2.prober.onChange?.('gw1', false, performance.now());
      await eventually('gw2 takes over', async () => (await gw2.egress.live()).includes(EIP), 5_000);
      expect(gw2.agent.status().role).toBe('active');
    } finally {
      await gw2.agent.stop();
    }
  });
});
