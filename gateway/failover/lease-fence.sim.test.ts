import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { MemoryLeaseStore } from './lease-memory.js';
import { LeaseHold } from './lease-keeper.js';
import { PROFILES } from './profiles.js';
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
