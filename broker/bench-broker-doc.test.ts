import { describe, expect, it } from '@jest/globals';
import { BEGIN, compareRounds, END, replaceBrokerRun } from './bench-broker-doc.js';

const DOC = '# Benchmarks\n\nintro\n\n## Broker\n\nCommand: `npm run bench:broker` …\nmore.\n\nolder runs, kept\n\n## Tunnels\n\ntunnels\n';

describe('bench:broker writes its latest run into docs/benchmarks.md', () => {
  it('puts it after the paragraph that opens ## Broker the first time, and replaces only it afterwards', () => {
    const first = replaceBrokerRun(DOC, `${BEGIN}\nrun 1\n${END}`);
    expect(first).toBe('# Benchmarks\n\nintro\n\n## Broker\n\nCommand: `npm run bench:broker` …\nmore.\n\n' + `${BEGIN}\nrun 1\n${END}` + '\n\nolder runs, kept\n\n## Tunnels\n\ntunnels\n');
    const second = replaceBrokerRun(first, `${BEGIN}\nrun 2\n${END}`);
    expect(second).toBe(first.replace('run 1', 'run 2'));
  });

  it('compares the builds by mean and per ABBA pair', () => {
    const r = (build: 'this' | 'baseline', rate: number) => ({ build, rate, p99: 1, brokerCpuMs: 0.2, redisCpuMs: 0.05 });
    const v = compareRounds('b71c85f (b71c85f)', [r('this', 100), r('baseline', 50), r('baseline', 100), r('this', 100)]);
    expect(v.meanSingleLeasesPerSecond).toEqual({ this: 100, baseline: 75 });
    expect(v.ratio).toBe(1.333);
    expect(v.pairRatios).toEqual([2, 1]);
  });
});
