import { describe, expect, it } from '@jest/globals';
import { withDeadline } from './deadline.js';

describe('withDeadline', () => {
  const late = (): Error => new Error('late');
  it('passes an answer in time through', async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, late)).resolves.toBe(7);
  });
  it('passes a refusal in time through unchanged', async () => {
    const e = new Error('refused');
    await expect(withDeadline(Promise.reject(e), 1000, late)).rejects.toBe(e);
  });
  it('rejects with the caller\'s error once the deadline passed', async () => {
    await expect(withDeadline(new Promise(() => undefined), 20, late)).rejects.toThrow('late');
  });
});
