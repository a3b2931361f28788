// What `npm run bench:broker` writes into docs/benchmarks.md: its latest run, between two markers in `## Broker`,
// from the figures of the run itself (pure: the bench does the I/O).
import { count as n, loadedRunLine, placeMarkedSection, type LoadedRunMeta } from '../host/bench-doc.js';

/** One single-lease phase of the side-by-side comparison. */
export interface Round {
  build: 'this' | 'baseline';
  rate: number;
  p99: number;
  brokerCpuMs: number;
  redisCpuMs: number;
}

export interface Versus {
  baseline: string;
  rounds: Round[];
  meanSingleLeasesPerSecond: { this: number; baseline: number };
  /** mean leases/s of this build over the baseline's */
  ratio: number;
  /** the same, per ABBA pair (a pair is measured within seconds, so it shares the machine's load) */
  pairRatios: number[];
  cpuMsPerLease: { this: { broker: number; redis: number }; baseline: { broker: number; redis: number } };
}

const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, x) => a + x, 0) / xs.length);

export function compareRounds(baseline: string, rounds: Round[]): Versus {
  const of = (b: Round['build']): Round[] => rounds.filter((r) => r.build === b);
  const m = { this: Math.round(mean(of('this').map((r) => r.rate))), baseline: Math.round(mean(of('baseline').map((r) => r.rate))) };
  const pairRatios: number[] = [];
  for (let i = 0; i + 1 < rounds.length; i += 2) {
    const pair = [rounds[i]!, rounds[i + 1]!];
    const t = pair.find((r) => r.build === 'this');
    const b = pair.find((r) => r.build === 'baseline');
    if (t && b && b.rate > 0) pairRatios.push(+(t.rate / b.rate).toFixed(3));
  }
  const cpu = (b: Round['build']): { broker: number; redis: number } => ({ broker: +mean(of(b).map((r) => r.brokerCpuMs)).toFixed(4), redis: +mean(of(b).map((r) => r.redisCpuMs)).toFixed(4) });
  return { baseline, rounds, meanSingleLeasesPerSecond: m, ratio: +(m.this / m.baseline).toFixed(3), pairRatios, cpuMsPerLease: { this: cpu('this'), baseline: cpu('baseline') } };
}

/** The figures of one run the section shows (a subset of what the bench prints). */
export interface BrokerRunFigures {
  clients: number;
  batchSize: number;
  leasesPerSecond: { httpSingle: number; httpBatch: number; redisBenchmarkSingleScript: number; redisBenchmarkBatchScript: number };
  requestLatencyMs: { single: { p50: number; p99: number }; batch: { p50: number; p99: number } };
  cpuMsPerLease: { brokerSingle: number; brokerBatch: number; redisSingle: number; redisBatch: number };
  bareNodeHttpPerSecond: number;
  redisBenchmarkIncrPerSecond: number;
  eventsMeasured: number;
  eventsExpected: number;
  propagationMs: { p50: number; p99: number; max: number };
  slowWatchers: Record<string, { rssMB: { start: number; peak: number }; metricsMs: { p50: number; p99: number }; leasesPerSecond: number } | number>;
  versusBaseline?: Versus;
}

export const BEGIN = '<!-- bench:broker latest run: written by `npm run bench:broker`, replaced by its next run -->';
export const END = '<!-- /bench:broker -->';

export function renderBrokerRun(f: BrokerRunFigures, m: LoadedRunMeta): string {
  const l: string[] = [BEGIN, '', '### Latest run', ''];
  l.push(
    loadedRunLine(m, 'leases/s move with its load; the ratios of builds measured side by side, and CPU per lease, move less'),
    '',
  );
  const v = f.versusBaseline;
  if (v) {
    l.push(`**Single leases/s against the baseline \`${v.baseline}\`**, ${v.rounds.length} phases of ${f.clients} clients in ABBA order on the same Redis in this run:`, '');
    l.push('| phase | ' + v.rounds.map((_, i) => String(i + 1)).join(' | ') + ' |', '|---|' + v.rounds.map(() => '---').join('|') + '|');
    l.push('| build | ' + v.rounds.map((r) => r.build).join(' | ') + ' |');
    l.push('| leases/s | ' + v.rounds.map((r) => n(r.rate)).join(' | ') + ' |');
    l.push('| p99 ms | ' + v.rounds.map((r) => r.p99.toFixed(1)).join(' | ') + ' |');
    l.push('| broker / Redis CPU ms per lease | ' + v.rounds.map((r) => `${r.brokerCpuMs.toFixed(3)} / ${r.redisCpuMs.toFixed(3)}`).join(' | ') + ' |', '');
    l.push(
      `- Mean: this ${n(v.meanSingleLeasesPerSecond.this)}, baseline ${n(v.meanSingleLeasesPerSecond.baseline)} leases/s: **ratio ${v.ratio.toFixed(2)}** (per ABBA pair: ${v.pairRatios.map((x) => x.toFixed(2)).join(', ')}).`,
      `- CPU per lease, broker / Redis: this ${v.cpuMsPerLease.this.broker.toFixed(3)} / ${v.cpuMsPerLease.this.redis.toFixed(3)} ms, baseline ${v.cpuMsPerLease.baseline.broker.toFixed(3)} / ${v.cpuMsPerLease.baseline.redis.toFixed(3)} ms.`,
      '',
    );
  }
  const lp = f.leasesPerSecond;
  l.push('| figure | this run |', '|---|---|');
  l.push(`| single-lease HTTP, leases/s | ${n(lp.httpSingle)} |`);
  l.push(`| batch HTTP, leases/s (${f.batchSize} per request) | ${n(lp.httpBatch)} |`);
  l.push(`| redis-benchmark, lease script one / ${f.batchSize} blocks per call (ceilings, leases/s) | ${n(lp.redisBenchmarkSingleScript)} / ${n(lp.redisBenchmarkBatchScript)} |`);
  l.push(`| request latency p50 / p99, single; batch | ${f.requestLatencyMs.single.p50} / ${f.requestLatencyMs.single.p99} ms; ${f.requestLatencyMs.batch.p50} / ${f.requestLatencyMs.batch.p99} ms |`);
  const c = f.cpuMsPerLease;
  l.push(`| CPU per lease, broker single / batch; Redis single / batch | ${c.brokerSingle} / ${c.brokerBatch} ms; ${c.redisSingle} / ${c.redisBatch} ms |`);
  l.push(`| bare node:http req/s; redis-benchmark INCR/s (the machine's floor and ceiling now) | ${n(f.bareNodeHttpPerSecond)}; ${n(f.redisBenchmarkIncrPerSecond)} |`);
  l.push(`| pool write → event at 100 watchers, p50 / p99 / max | ${f.propagationMs.p50} / ${f.propagationMs.p99} / ${f.propagationMs.max} ms (${n(f.eventsMeasured)} of ${n(f.eventsExpected)} events) |`);
  const phases: [string, string][] = [
    ['with100LiveWatchers', '100 live watchers'],
    ['plus20PausedLive', '+ 20 paused live watchers'],
    ['plus20PausedCatchingUpFromRev0', '+ 20 paused catch-ups from rev 0'],
  ];
  for (const [key, label] of phases) {
    const p = f.slowWatchers[key];
    if (typeof p !== 'object') continue;
    l.push(`| ${label}: RSS start → peak; \`/metrics\` p50 / p99; leases/s | ${p.rssMB.start} → ${p.rssMB.peak} MB; ${p.metricsMs.p50} / ${p.metricsMs.p99} ms; ${n(p.leasesPerSecond)} |`);
  }
  l.push('', END);
  return l.join('\n');
}

/**
 * Puts the section in place of the one between the markers; the first time, right after the paragraphs that
 * open `## Broker` (before its first `###` or table). Everything else in the document stays as it is.
 */
export function replaceBrokerRun(doc: string, section: string): string {
  return placeMarkedSection(doc, { begin: BEGIN, end: END }, '## Broker', section, 'after-intro');
}
