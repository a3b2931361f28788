import { describe, it, expect } from '@jest/globals';
import { FenceRefreshWatch } from './fence-refresh.js';
import { TieredMax } from './recent-max.js';

describe('FenceRefreshWatch', () => {
  it('judges nothing on the first refresh after a gain or a reset (a takeover is not a refresh)', () => {
    const w = new FenceRefreshWatch(1000);
    expect(w.refreshed(0, 20, 40, 0)).toBeUndefined();
    expect(w.maxAgeMs(20)).toBe(0);
    w.reset();
    expect(w.refreshed(500, 600, 640, 500)).toBeUndefined();
    expect(w.maxAgeMs(600)).toBe(0);
  });

  it('a refresh in force before the old deadline is no lapse; one that ends after it is, with bounds', () => {
    const w = new FenceRefreshWatch(1000);
    w.refreshed(0, 1, 40, 0);
    expect(w.refreshed(10, 11, 50, 10)).toBeUndefined();
    // Began before the old deadline (50), in force no later than 62: dark at most 12 ms, maybe not at all. Its own
    // deadline (60) passed during it too: no live fence is left behind...
    expect(w.refreshed(20, 62, 60, 20)).toEqual({ darkMsAtMost: 12, darkMsAtLeast: 0, refreshMs: 42 });
    expect(w.refreshed(70, 71, 110, 70)).toBeUndefined(); // ...so the next is a takeover again
    expect(w.refreshed(80, 112, 120, 80)).toEqual({ darkMsAtMost: 2, darkMsAtLeast: 0, refreshMs: 32 });
    // Began 5 ms after the old fence (120, refreshed in 32 ms) certainly ran out.
    expect(w.refreshed(157, 158, 200, 157)).toEqual({ darkMsAtMost: 38, darkMsAtLeast: 5, refreshMs: 1 });
  });

  it("measures the fence's age at each refresh from the send of the renewal behind it, for its memory, outages excepted", () => {
    const w = new FenceRefreshWatch(1000, 200);
    w.refreshed(0, 2, 40, 0);
    w.refreshed(10, 13, 50, 10); // 13 ms after the renewal behind the old fence (sent at 0)
    expect(w.maxAgeMs(13)).toBe(13);
    // A renewal sent 25 ms late (at 45), answered and refreshed 15 ms later: the old fence (sent at 10) was 50 ms old.
    w.refreshed(55, 60, 85, 45);
    expect(w.maxAgeMs(60)).toBe(50);
    w.refreshed(300, 301, 400, 299); // 291 ms: an outage, not jitter
    w.refreshed(310, 311, 410, 309);
    expect(w.maxAgeMs(311)).toBe(50);
    expect(w.maxAgeMs(1059)).toBe(50);
    expect(w.maxAgeMs(1061)).toBe(12);
  });

  it('keeps its ages where it is told (a holder passes its tiered memory)', () => {
    const long = new TieredMax(100, 10_000, (at) => at >= 1000);
    const w = new FenceRefreshWatch(long);
    w.refreshed(0, 1, 40, 0);
    w.refreshed(30, 60, 80, 30); // 60 ms old, before the hold settled: 100 ms memory
    w.reset();
    w.refreshed(1000, 1001, 1040, 1000);
    w.refreshed(1030, 1070, 1090, 1030); // 70 ms old, settled: 10 s
    expect(w.maxAgeMs(1070)).toBe(70);
    expect(w.maxAgeMs(5000)).toBe(70);
    expect(w.maxAgeMs(11_100)).toBe(0);
  });
});
