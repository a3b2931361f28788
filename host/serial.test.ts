import { describe, expect, it } from '@jest/globals';
import { createSerial } from './serial.js';
import { sleep } from './wait-for.js';

describe('createSerial', () => {
  it('runs one operation at a time, in call order, and goes on after a failure', async () => {
    const serial = createSerial();
    const log: string[] = [];
    const op = (name: string, ms: number, fail = false) => async (): Promise<string> => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([serial(op('a', 20)), serial(op('b', 1, true)), serial(op('c', 1))]);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});
