import { describe, expect, it } from '@jest/globals';
import { LatestValue } from './latest-value.js';

describe('LatestValue', () => {
  it('answers at once with the last value while a slow source is being asked', async () => {
    let release: (n: number) => void = () => undefined;
    let calls = 0;
    const v = new LatestValue(() => new Promise<number>((r) => { calls++; release = r; }), 0, 10_000);
    v.start();
    expect(v.get()).toBe(0); // the source has not answered: no wait, the initial value
    release(7);
    await new Promise((r) => setImmediate(r));
    expect(v.get()).toBe(7);
    const second = v.refresh(); // the source is asked again …
    const third = v.refresh(); // … but not twice at once
    expect(calls).toBe(2);
    expect(v.get()).toBe(7);
    release(9);
    await Promise.all([second, third]);
    expect(v.get()).toBe(9);
    v.stop();
  });

  it('keeps the last good value when the source fails, and reports the error', async () => {
    const errors: unknown[] = [];
    let fail = false;
    const v = new LatestValue(async () => { if (fail) throw new Error('redis away'); return 3; }, 0, 10_000, (e) => errors.push(e));
    await v.refresh();
    fail = true;
    await v.refresh();
    expect(v.get()).toBe(3);
    expect(errors).toHaveLength(1);
  });
});
