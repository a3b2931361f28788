import { describe, expect, it } from '@jest/globals';
import { ResyncThrottle } from './resync-throttle.js';

describe('ResyncThrottle', () => {
  it('lets a pool be re-read at most once per interval, each pool on its own', () => {
    const t = new ResyncThrottle(1000);
    const steps: [string, number, boolean][] = [
      ['a', 0, true],
      ['a', 999, false],
      ['b', 999, true],
      ['a', 1000, true],
      ['a', 1500, false],
      ['b', 1998, false],
      ['b', 1999, true],
    ];
    expect(steps.map(([pool, now]) => t.tryResync(pool, now))).toEqual(steps.map(([, , ok]) => ok));
  });
});
