import { describe, expect, it } from '@jest/globals';
import { formatStressSpec, parseStressSpec, startStress, stressArgv } from './stress.js';

describe('--stress spec', () => {
  const good: [string, { cpu: number; io: number }][] = [
    ['cpu=8', { cpu: 8, io: 0 }],
    ['cpu=4,io=1', { cpu: 4, io: 1 }],
    ['io=2,cpu=1', { cpu: 1, io: 2 }],
    [' cpu=2 , io=0 ', { cpu: 2, io: 0 }],
  ];
  for (const [text, want] of good) it(`parses "${text}"`, () => expect(parseStressSpec(text)).toEqual(want));

  const bad = ['', 'cpu', 'cpu=0', 'io=2', 'cpu=-1', 'cpu=2,cpu=3', 'cpu=2,vm=1', 'cpu=1000', 'cpu=2;rm -rf /'];
  for (const text of bad) {
    it(`rejects "${text}" with INVALID_ARGUMENT`, () => {
      expect(() => parseStressSpec(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown as Error);
    });
  }

  it('formats back and builds a stress-ng command that dies with its parent', () => {
    expect(formatStressSpec({ cpu: 4, io: 1 })).toBe('cpu=4,io=1');
    expect(stressArgv({ cpu: 8, io: 0 })).toEqual(['setpriv', '--pdeathsig', 'KILL', '--', 'stress-ng', '--cpu', '8', '--quiet']);
  });
});

describe('startStress (real stress-ng, one worker, one second)', () => {
  it('runs until stopped by its PID and records when, with what and at which load', async () => {
    const s = await startStress({ cpu: 1, io: 0 });
    const pid = s.record.pid;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await new Promise((r) => setTimeout(r, 1000));
    const rec = await s.stop();
    expect(rec).toMatchObject({ spec: 'cpu=1', pid, ended: 'stopped' });
    expect(rec.loadAvgAtStart).toHaveLength(3);
    expect(rec.loadAvgAtStop).toHaveLength(3);
    expect(Date.parse(rec.stoppedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(rec.startedAt));
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await s.stop()).toBe(rec); // idempotent
  });
});
