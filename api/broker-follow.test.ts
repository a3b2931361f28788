import { describe, expect, it } from '@jest/globals';
import { firstListing } from './broker-follow.js';
import { StraitError } from './strait-error.js';

describe('firstListing', () => {
  it('retries while the broker cannot be reached or fails, then returns the resourceVersion', async () => {
    const answers: (() => Promise<string>)[] = [
      () => Promise.reject(new StraitError('UNAVAILABLE', 'no broker')),
      () => Promise.reject(new StraitError('INTERNAL', 'boom')),
      () => Promise.resolve('42'),
    ];
    const retries: number[] = [];
    const rv = await firstListing({ relist: () => answers.shift()!(), stopped: () => false, onRetry: (_e, n) => retries.push(n), retryMs: 1 });
    expect([rv, retries]).toEqual(['42', [1, 2]]);
  });

  it('fails at once on a refusal (a 4xx: retrying cannot mend a bad credential) and once stopped', async () => {
    let calls = 0;
    const refused = firstListing({ relist: () => { calls += 1; return Promise.reject(new StraitError('UNAUTHENTICATED', 'bad token')); }, stopped: () => false, onRetry: () => undefined, retryMs: 1 });
    await expect(refused).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const stopped = firstListing({ relist: () => { calls += 1; return Promise.reject(new StraitError('UNAVAILABLE', 'no broker')); }, stopped: () => true, onRetry: () => undefined, retryMs: 1 });
    await expect(stopped).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(calls).toBe(2);
  });
});
