import { describe, expect, it } from '@jest/globals';
import { eventually } from './eventually.js';

describe('eventually', () => {
  it('retries through throws and falsy answers and returns the first real one', async () => {
    let n = 0;
    const v = await eventually('the third try', async () => {
      n += 1;
      if (n === 1) throw new Error('not there yet');
      return n >= 3 ? `try ${n}` : undefined;
    });
    expect(v).toBe('try 3');
  });

  it('names what it waited for and the last error when time runs out', async () => {
    await expect(eventually('a pool', async () => Promise.reject(new Error('404 NotFound')), 200)).rejects.toThrow('timed out waiting for a pool: Error: 404 NotFound');
    await expect(eventually('a pool', async () => false, 200)).rejects.toThrow(/^timed out waiting for a pool$/);
  });
});
