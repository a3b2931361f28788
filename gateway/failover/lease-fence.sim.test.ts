import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLeaseStore } from './lease-memory.js';
import { LeaseHold, LeaseKeeper } from './lease-keeper.js';
import { PROFILES } from './profiles.js';
import { QuorumLeaseStore, quorumRenewTimeoutMs, quorumTimeoutMs, type QuorumMember } from './lease-quorum.js';
import { QuorumStoreState } from './lease-quorum-state.js';
import { seededRandom } from '../../testing/index.js';

/**
 * Discrete-event simulation of several gateways contending for one lease through a store with arbitrary request and
 * response delays, stalled processes (SIGSTOP: nothing runs, but the kernel fence still expires at validUntil) and
 * voluntary step-downs. Property: the serving intervals of two different holders never overlap.
 */
interface Interval { holder: number; start: number; end: number }
type Ev =
  | { t: number; kind: 'tick'; h: number }
  | { t: number; kind: 'arrive'; h: number; op: 'acquire' | 'renew' | 'release'; sentAt: number; epoch: number | undefined }
  | { t: number; kind: 'respond'; h: number; op: 'acquire' | 'renew'; sentAt: number; granted: number | false }
  | { t: number; kind: 'stepdown'; h: number };


async function simulate(seed: number, holders: number, unsafe = false): Promise<Interval[]> {
  const p = PROFILES.default;
  const rnd = seededRandom(seed);
  let now = 0;
  const store = new MemoryLeaseStore(() => now);
  const holds = Array.from({ length: holders }, () => new LeaseHold(p.leaseTtlMs, unsafe ? 0 : p.safetyMarginMs));
  // Each holder gets a few stalls (SIGSTOP windows) of up to 2 lease lifetimes.
  const pauses = holds.map(() => Array.from({ length: 3 }, () => { const s = rnd() * 4000; return [s, s + rnd() * 400] as const; }));
  const pausedUntil = (h: number, t: number): number => {
    for (const [a, b] of pauses[h] ?? []) if (t >= a && t < b) return b;
    return t;
  };
  const delay = (): number => (rnd() < 0.1 ? rnd() * 300 : rnd() * 20); // mostly fast, sometimes very slow
  const intervals: Interval[] = [];
  const cut = (h: number, t: number): void => {
    for (const iv of intervals) if (iv.holder === h && iv.start <= t && iv.end > t) iv.end = t;
  };
  const q: Ev[] = [];
  for (let h = 0; h < holders; h++) {
    q.push({ t: rnd() * 50, kind: 'tick', h });
    for (let i = 0; i < 3; i++) q.push({ t: rnd() * 4000, kind: 'stepdown', h });
  }
  while (q.length > 0) {
    q.sort((a, b) => a.t - b.t);
    const ev = q.shift();
    if (!ev || ev.t > 5000) break;
    now = ev.t;
    const hold = holds[ev.h];
    if (!hold) continue;
    // A stalled process handles nothing until it resumes; the store keeps running.
    if (ev.kind !== 'arrive') {
      const resume = pausedUntil(ev.h, ev.t);
      if (resume > ev.t) { q.push({ ...ev, t: resume }); continue; }
    }
    switch (ev.kind) {
      case 'tick': {
        const op = hold.epoch === undefined ? 'acquire' : 'renew';
        q.push({ t: now + delay(), kind: 'arrive', h: ev.h, op, sentAt: now, epoch: hold.epoch });
        q.push({ t: now + (op === 'acquire' ? p.acquireRetryMs : p.renewIntervalMs), kind: 'tick', h: ev.h });
        break;
      }
      case 'arrive': {
        if (ev.op === 'release') { await store.release('eg', `h${ev.h}`, ev.epoch ?? -1); break; }
        let granted: number | false = false;
        if (ev.op === 'acquire') { const r = await store.acquire('eg', `h${ev.h}`, p.leaseTtlMs); granted = r === false ? false : r.epoch; }
        else if (ev.epoch !== undefined && (await store.renew('eg', `h${ev.h}`, ev.epoch, p.leaseTtlMs))) granted = ev.epoch;
        q.push({ t: now + delay(), kind: 'respond', h: ev.h, op: ev.op, sentAt: ev.sentAt, granted });
        break;
      }
      case 'respond': {
        if (ev.granted === false) {
          if (ev.op === 'renew' && hold.epoch !== undefined) { hold.lost(); cut(ev.h, now); }
          break;
        }
        if (ev.op === 'renew' && hold.epoch !== ev.granted) break; // answer to a renewal of a lease given up since
        if (unsafe) hold.granted(now, ev.granted); // counting from receipt instead of sending: the classic bug
        else hold.granted(ev.sentAt, ev.granted);
        if (hold.validUntil > now) intervals.push({ holder: ev.h, start: now, end: hold.validUntil });
        break;
      }
      case 'stepdown': {
        const epoch = hold.epoch;
        if (epoch === undefined) break;
        hold.lost();
        cut(ev.h, now); // drop first ...
        q.push({ t: now + delay(), kind: 'arrive', h: ev.h, op: 'release', sentAt: now, epoch }); // ... then release
        break;
      }
    }
  }
  return intervals;
}

function overlaps(ivs: Interval[]): [Interval, Interval] | undefined {
  for (const a of ivs) for (const b of ivs) if (a.holder < b.holder && a.start < b.end && b.start < a.end && a.end > a.start && b.end > b.start) return [a, b];
  return undefined;
}

describe('lease fencing simulation', () => {
  it('two holders never serve at the same time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 3 }), async (seed, n) => {
        const ivs = await simulate(seed, n);
        expect(overlaps(ivs)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('the simulation has teeth: counting validity from receipt with no margin does overlap', async () => {
    let found = false;
    for (let seed = 1; seed < 400 && !found; seed++) if (overlaps(await simulate(seed, 3, true))) found = true;
    expect(found).toBe(true);
  });

  it('someone holds the lease most of the time (liveness sanity)', async () => {
    const ivs = await simulate(42, 2);
    expect(ivs.length).toBeGreaterThan(10);
  });
});

/**
 * The quorum lease store (lease-quorum.ts, the real code with the real LeaseKeeper) on virtual time: three stores
 * that crash (requests refused) and come back empty, stall (SIGSTOP: requests run when they resume, late), and are
 * cut off from single holders (requests lost), plus holders that stall and step down. Every message takes its own
 * delay. Property: no two holders serve at once, and epochs only grow.
 */
interface QInterval extends Interval { epoch: number }

interface QuorumSim {
  holders: number;
  /** false: the broken variant, stores grant right after an empty restart. */
  restartGuard: boolean;
  /** The stores that suffer faults (crash and empty restart, stall, cuts, slow messages); the others are healthy. */
  faulty: readonly number[];
}

async function simulateQuorum(seed: number, o: QuorumSim): Promise<QInterval[]> {
  const { holders, restartGuard } = o;
  const p = PROFILES.default;
  const END = 6000;
  const rnd = seededRandom(seed);
  let now = 0;
  let seq = 0;
  const q: { t: number; seq: number; run: () => void }[] = [];
  const at = (t: number, run: () => void): void => { q.push({ t, seq: seq++, run }); };
  const windows = (count: number, maxLen: number): (readonly [number, number])[] =>
    Array.from({ length: count }, () => { const a = rnd() * END; return [a, a + rnd() * maxLen] as const; });
  const within = (ws: readonly (readonly [number, number])[], t: number): readonly [number, number] | undefined => ws.find(([a, b]) => t >= a && t < b);
  const stores = Array.from({ length: 3 }, (_, s) => {
    const faulty = o.faulty.includes(s);
    const state = new QuorumStoreState(() => now, restartGuard);
    const crashes = faulty ? windows(2, 400) : [];
    for (const [, b] of crashes) at(b, () => state.wipe()); // back up, empty
    return { state, crashes, stalls: faulty ? windows(2, 400) : [], faulty };
  });
  // Per holder and store: a few windows in which that holder's requests to that store are lost.
  const cuts = Array.from({ length: holders }, () => stores.map((st) => (st.faulty ? windows(2, 1500) : [])));
  const pauses = Array.from({ length: holders }, () => windows(2, 300));
  const resume = (h: number, t: number): number => within(pauses[h] ?? [], t)?.[1] ?? t;
  // Messages take up to 5 ms; to and from a faulty store one in ten takes up to 200 ms (beyond the timeout).
  const delay = (s: number): number => (stores[s]?.faulty && rnd() < 0.1 ? rnd() * 200 : rnd() * 5);

  const member = (h: number, s: number): QuorumMember => {
    const store = stores[s]!;
    const send = <T>(op: (st: QuorumStoreState) => T): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (within(cuts[h]?.[s] ?? [], now)) return; // lost
        const reply = (r: { ok: true; v: T } | { ok: false }): void => {
          if (within(cuts[h]?.[s] ?? [], now)) return; // the answer is lost too
          at(resume(h, now + delay(s)), () => (r.ok ? resolve(r.v) : reject(new Error('connection refused'))));
        };
        at(now + delay(s), () => {
          const run = (): void => reply(within(store.crashes, now) ? { ok: false } : { ok: true, v: op(store.state) });
          const stall = within(store.stalls, now);
          if (stall && !within(store.crashes, now)) at(stall[1], run);
          else run();
        });
      });
    return {
      name: `s${s}`,
      acquire: (k, holder, ttl, g) => send((st) => st.acquire(k, holder, ttl, g)),
      commit: (k, holder, se, e, ttl) => send((st) => st.commit(k, holder, se, e, ttl)),
      renew: (k, holder, e, ttl, g) => send((st) => st.renew(k, holder, e, ttl, g)),
      rejoin: (k, holder, e, ttl, g) => send((st) => st.rejoin(k, holder, e, ttl, g)),
      release: (k, holder, e) => send((st) => st.release(k, holder, e)),
      read: (k) => send((st) => st.read(k)),
    };
  };

  const intervals: QInterval[] = [];
  const cut = (h: number, t: number): void => {
    for (const iv of intervals) if (iv.holder === h && iv.start <= t && iv.end > t) iv.end = t;
  };
  for (let h = 0; h < holders; h++) {
    // A holder's own timers (the per-store timeout) fire only when its process runs.
    const timer = (ms: number, fn: () => void): (() => void) => {
      let live = true;
      at(resume(h, now + ms), () => { if (live) fn(); });
      return () => { live = false; };
    };
    const store = new QuorumLeaseStore(stores.map((_, s) => member(h, s)), { guardMs: p.maxLeaseTtlMs, timeoutMs: quorumTimeoutMs(p), renewTimeoutMs: quorumRenewTimeoutMs(p), timer });
    const keeper = new LeaseKeeper(store, 'eg', `h${h}`, p, () => now);
    const lost = keeper.hold.lost.bind(keeper.hold);
    keeper.hold.lost = () => { cut(h, now); lost(); };
    const stepdowns = Array.from({ length: 3 }, () => rnd() * END).sort((a, b) => a - b);
    const tick = (): void => {
      const sentAt = now;
      const down = stepdowns[0] !== undefined && stepdowns[0] <= now && keeper.hold.epoch !== undefined;
      if (down) stepdowns.shift();
      const work = down ? keeper.stepDown(async () => cut(h, now)) : keeper.step(true);
      void work.then(() => {
        if (!down && keeper.serving()) intervals.push({ holder: h, start: now, end: keeper.hold.validUntil, epoch: keeper.hold.epoch ?? -1 });
        const next = sentAt + (keeper.hold.epoch === undefined ? p.acquireRetryMs : p.renewIntervalMs);
        at(resume(h, Math.max(now, next)), tick);
      });
    };
    at(rnd() * 50, tick);
  }
  while (q.length > 0) {
    q.sort((a, b) => a.t - b.t || a.seq - b.seq);
    const ev = q.shift()!;
    if (ev.t > END) break;
    now = ev.t;
    ev.run();
    await new Promise((r) => setImmediate(r)); // let every promise chain this event settled run to its end
  }
  return intervals;
}

/** Epochs only grow: each epoch belongs to one holder, and a higher epoch starts serving after a lower one. */
function epochsOutOfOrder(ivs: QInterval[]): string | undefined {
  const first = new Map<number, { holder: number; start: number }>();
  for (const iv of ivs) {
    const f = first.get(iv.epoch);
    if (f && f.holder !== iv.holder) return `epoch ${iv.epoch} held by h${f.holder} and h${iv.holder}`;
    if (!f || iv.start < f.start) first.set(iv.epoch, { holder: iv.holder, start: iv.start });
  }
  const byEpoch = [...first.entries()].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < byEpoch.length; i++) {
    const [e0, a] = byEpoch[i - 1]!;
    const [e1, b] = byEpoch[i]!;
    if (b.start < a.start) return `epoch ${e1} served from ${b.start.toFixed(1)} ms, before epoch ${e0} (${a.start.toFixed(1)} ms)`;
  }
  return undefined;
}

describe('lease fencing simulation: quorum of three stores that crash, restart empty, stall and are cut off', () => {
  it('two holders never serve at the same time, whatever happens to any number of stores', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 3 }), async (seed, n) => {
        const ivs = await simulateQuorum(seed, { holders: n, restartGuard: true, faulty: [0, 1, 2] });
        expect(overlaps(ivs)).toBeUndefined();
      }),
      { numRuns: 25 },
    );
  }, 300_000);

  it('with one store failing in every way, holders never overlap and epochs only grow', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 3 }), fc.integer({ min: 0, max: 2 }), async (seed, n, bad) => {
        const ivs = await simulateQuorum(seed, { holders: n, restartGuard: true, faulty: [bad] });
        expect(overlaps(ivs)).toBeUndefined();
        expect(epochsOutOfOrder(ivs)).toBeUndefined();
      }),
      { numRuns: 25 },
    );
  }, 300_000);

  it('the simulation has teeth: stores that grant right after an empty restart (no guard) do overlap', async () => {
    let found = false;
    for (let seed = 1; seed < 300 && !found; seed++) if (overlaps(await simulateQuorum(seed, { holders: 3, restartGuard: false, faulty: [0, 1, 2] }))) found = true;
    expect(found).toBe(true);
  }, 300_000);

  it('someone holds the lease most of the time with one store failing (liveness sanity)', async () => {
    const ivs = await simulateQuorum(42, { holders: 2, restartGuard: true, faulty: [1] });
    const served = ivs.map((iv) => [iv.start, iv.end] as const).sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let reach = 0;
    for (const [a, b] of served) { if (b > reach) { covered += b - Math.max(a, reach); reach = b; } }
    expect(covered / 6000).toBeGreaterThan(0.5);
  });
});
