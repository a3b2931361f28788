import { describe, expect, it } from '@jest/globals';
import { formatFenceLapses, parseFenceLapses } from './fence-lapses.js';

describe('fence lapses from the gateway logs', () => {
  const log = [
    '{"level":30,"time":1000,"msg":"lease ttl","ttlMs":50}',
    '{"level":40,"time":1500,"name":"gateway:c1-gw1","darkMsAtMost":11.4,"darkMsAtLeast":0,"refreshMs":25.6,"msg":"egress fence lapsed"}',
    '{"level":40,"time":900,"darkMsAtMost":3,"darkMsAtLeast":0,"refreshMs":2,"msg":"egress fence lapsed"}',
    '{"level":40,"time":2500,"darkMsAtMost":0.7,"darkMsAtLeast":0.2,"refreshMs":13.2,"msg":"egress fence lapsed"}',
    '{"level":40,"time":2600,"darkMsAtMost":0.7,"msg":"egress fence laps', // cut short by a SIGKILL
    '{"level":40,"time":9000,"darkMsAtMost":5,"msg":"egress fence lapsed"}',
    '',
  ].join('\n');

  it('keeps the lapses logged during the traffic, relative to its start', () => {
    expect(parseFenceLapses('c1-gw1', log, 1000, 3000)).toEqual([
      { gateway: 'c1-gw1', atMs: 500, darkMsAtMost: 11.4, darkMsAtLeast: 0, refreshMs: 25.6 },
      { gateway: 'c1-gw1', atMs: 1500, darkMsAtMost: 0.7, darkMsAtLeast: 0.2, refreshMs: 13.2 },
    ]);
    expect(parseFenceLapses('c1-gw1', '', 0, 1)).toEqual([]);
  });

  it('says none, or how many with the longest first-to-last in time', () => {
    expect(formatFenceLapses([])).toBe('none');
    expect(formatFenceLapses(undefined)).toBe('not read');
    const lapses = parseFenceLapses('c1-gw1', log, 1000, 3000);
    expect(formatFenceLapses(lapses)).toBe('2: +0.5 s c1-gw1 dark ≤ 11.4 ms (refresh 25.6 ms); +1.5 s c1-gw1 dark ≤ 0.7 ms (refresh 13.2 ms)');
  });
});
