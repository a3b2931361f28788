import { describe, expect, it } from '@jest/globals';
import { falseOnTimeout, waitFor, WaitTimeoutError } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first value that is not undefined/false', async () => {
    let n = 0;
    await expect(waitFor('third poll', () => (++n >= 3 ? n : false), 2000, 1)).resolves.toBe(3);
  });

  it('throws WaitTimeoutError naming what it waited for', async () => {
    await expect(waitFor('never', () => false, 30, 5)).rejects.toThrow(new WaitTimeoutError('never', 30));
  });

  it('lets an error of the check through, even with falseOnTimeout', async () => {
    const boom = new Error('boom');
    await expect(waitFor('x', () => { throw boom; }, 30, 5).then(() => true, falseOnTimeout)).rejects.toBe(boom);
    await expect(waitFor('y', () => false, 30, 5).then(() => true, falseOnTimeout)).resolves.toBe(false);
  });
});
