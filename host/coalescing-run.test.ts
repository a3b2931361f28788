import { describe, expect, it } from '@jest/globals';
import { createCoalescingRun } from './coalescing-run.js';

describe('createCoalescingRun', () => {
  it('runs one at a time; calls during a run coalesce into exactly one more run, which sees the latest state', async () => {
    let stopped = false;
    const c = createCoalescingRun(() => stopped);
    let state = 0;
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    const body = async (): Promise<void> => {
      active++;
      maxActive = Math.max(maxActive, active);
      const s = state;
      await new Promise((r) => setTimeout(r, 20));
      seen.push(s);
      active--;
    };
    state = 1;
    const first = c.run(body);
    expect(c.current).toBeDefined();
    for (let i = 2; i <= 10; i++) {
      state = i;
      void c.run(body);
    }
    await first;
    expect(seen).toEqual([1, 10]);
    expect(maxActive).toBe(1);
    expect(c.current).toBeUndefined();
    stopped = true;
    await c.run(body);
    expect(seen).toEqual([1, 10]);
  });

  it('a failed run rejects its callers and does not wedge the next call', async () => {
    const c = createCoalescingRun(() => false);
    await expect(c.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    let ran = false;
    await c.run(async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });
});
