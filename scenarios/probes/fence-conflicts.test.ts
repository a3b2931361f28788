import { describe, expect, it } from '@jest/globals';
import { fenceConflicts, fenceEvents, liveSpans, type FenceLookRecord } from './fence-conflicts.js';

const T = 1_700_000_000_000;
const IP = '172.31.0.200';

/**
 * Looks every 10 ms per gateway, each taking 1 ms; `live(gw, t)` says whether the fence held IP at the look.
 * `unknown(gw, t)` makes a look unreadable.
 */
function looks(opts: { from: number; to: number; live: (gw: string, t: number) => boolean; unknown?: (gw: string, t: number) => boolean; offset?: Record<string, number> }): FenceLookRecord[] {
  const out: FenceLookRecord[] = [];
  for (const gw of ['gw1', 'gw2']) {
    for (let t = opts.from + (opts.offset?.[gw] ?? 0); t < opts.to; t += 10) {
      const elements = opts.unknown?.(gw, t) ? null : opts.live(gw, t) ? [{ ip: IP, expiresMs: 40 }] : [];
      out.push({ gateway: gw, before: T + t, after: T + t + 1, elements });
    }
  }
  return out;
}

describe('fence conflicts', () => {
  it('a clean hand-over (old fence gone before the new one appears) is no conflict', () => {
    const l = looks({ from: 0, to: 500, live: (gw, t) => (gw === 'gw1' ? t < 200 : t >= 210) });
    expect(fenceConflicts(l, T + 150)).toEqual([]);
  });

  it('both fences seen live over several looks is a conflict with the looks that prove it', () => {
    const l = looks({ from: 0, to: 500, live: (gw, t) => (gw === 'gw1' ? t < 260 : t >= 200) });
    const c = fenceConflicts(l, T + 150);
    expect(c).toHaveLength(1);
    // gw2 certainly live from the end of its first sighting (201), gw1 until the start of its last (250).
    expect(c[0]).toMatchObject({ ip: IP, gateways: ['gw1', 'gw2'], from: T + 201, to: T + 250, durationMs: 49 });
    expect(c[0]!.evidence.map((e) => [e.gateway, e.before - T])).toEqual([
      ['gw1', 0],
      ['gw2', 190],
      ['gw2', 200],
      ['gw1', 250],
      ['gw1', 260],
      ['gw2', 490],
    ]);
    expect(c[0]!.explanation).toMatch(/gw1 had 172\.31\.0\.200 .* to the look starting fault\+100 ms \(40 ms left on its timeout then\), gone in the look ending fault\+111 ms/);
    expect(c[0]!.explanation).toMatch(/both were live from fault\+51 ms to fault\+100 ms/);
  });

  it('a single sighting proves no instant, so it is never a conflict', () => {
    const l = looks({ from: 0, to: 300, live: (gw, t) => gw === 'gw2' || t === 100 });
    expect(fenceConflicts(l, T)).toEqual([]);
  });

  it('the two gateways seen in the same round during a hand-over is no conflict', () => {
    // gw1 last seen in the round at 200, gw2 first seen there: the looks are not at the same instant.
    const l = looks({ from: 0, to: 400, live: (gw, t) => (gw === 'gw1' ? t <= 200 : t >= 200) });
    expect(fenceConflicts(l, T)).toEqual([]);
  });

  it('a conflict before the fault is reported with its real times and a non-negative duration', () => {
    // The watch starts while a previous hand-over is still overlapping, long before the fault.
    const l = looks({ from: 0, to: 5000, live: (gw, t) => (gw === 'gw1' ? t < 50 : true) });
    const c = fenceConflicts(l, T + 4000);
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ from: T + 1, to: T + 40, durationMs: 39 });
    expect(c[0]!.explanation).toMatch(/from fault-3999 ms to fault-3960 ms/);
    for (const x of c) expect(x.to).toBeGreaterThanOrEqual(x.from);
  });

  it('an unreadable look ends a run: what happened while nobody could see is not counted', () => {
    const l = looks({ from: 0, to: 400, live: (gw, t) => (gw === 'gw1' ? true : t >= 200), unknown: (gw, t) => gw === 'gw1' && t >= 100 && t < 300 });
    expect(liveSpans(l).filter((s) => s.gateway === 'gw1').map((s) => [s.certainFrom! - T, s.certainTo! - T, s.next])).toEqual([
      [1, 90, null],
      [301, 390, null],
    ]);
    const c = fenceConflicts(l, T);
    expect(c.map((x) => [x.from - T, x.to - T])).toEqual([[301, 390]]);
  });

  it('looks of the two gateways taken at different offsets: the overlap is bounded by both', () => {
    const l = looks({ from: 0, to: 400, live: (gw, t) => (gw === 'gw1' ? t < 205 : t >= 180), offset: { gw1: 0, gw2: 5 } });
    // gw1 seen up to the look at 200; gw2 from the look at 185: certain overlap [186, 200].
    expect(fenceConflicts(l, T).map((x) => [x.from - T, x.to - T, x.durationMs])).toEqual([[186, 200, 14]]);
  });

  it('timeline events draw each span from its first look to its last', () => {
    const l = looks({ from: 0, to: 100, live: (gw, t) => gw === 'gw1' && t >= 20 && t < 60 });
    expect(fenceEvents(l).map((e) => [e.kind, e.gateway, e.at - T])).toEqual([
      ['eip-add', 'gw1', 20],
      ['eip-del', 'gw1', 51],
    ]);
  });
});
