import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failoverEvents, syntheticFenceLooks, syntheticTcp, syntheticUdp } from '../probes/fixtures.js';
import { renderMarkdown } from './markdown.js';
import { summariseRun, type RunReport } from './model.js';
import { gatewayColours, renderTrialSvg } from './svg.js';
import { jsonOutput, writeRunReport, writeTrialFiles } from './writer.js';
import { evaluateTrial, type TrialMeasurement } from '../runner/evaluate-trial.js';
import { parseScenario } from '../model/scenario.js';

const T = 1_800_000_000_000;
const EIP = '172.31.0.200';
const assertions = parseScenario('name: t\ntopology: x\nfaults: [{kind: gateway-sigkill}]\nassertions: {tcpSurvives: [cross-cluster]}\n').assertions;

function measurement(over: Partial<TrialMeasurement> = {}, egressSrc: (t: number) => string = () => `${EIP}:4000`): TrialMeasurement {
  return {
    index: 1,
    fault: 'gateway-sigkill',
    faultKind: 'gateway-sigkill',
    profile: 'default',
    cluster: 'c1',
    faultedGateway: 'c1-gw1',
    standbyGateway: 'c1-gw2',
    gateways: ['c1-gw1', 'c1-gw2'],
    startedAt: T,
    faultAt: T + 800,
    endedAt: T + 3300,
    flows: [
      { kind: 'cross-cluster', from: 'c1-n1-p1', expectedSource: '10.11.1.2', udp: syntheticUdp({ start: T, durationMs: 3300, lossFrom: T + 800, lossTo: T + 930 }), tcp: syntheticTcp({ start: T, durationMs: 3300, pauseFrom: T + 800, pauseTo: T + 1200 }) },
      { kind: 'egress', from: 'c1-n1-p1', expectedSource: EIP, udp: syntheticUdp({ start: T, durationMs: 3300, lossFrom: T + 800, lossTo: T + 1010, src: egressSrc }), tcp: syntheticTcp({ start: T, durationMs: 3300, brokeAt: T + 1300 }) },
    ],
    events: failoverEvents(T, T + 920, EIP),
    // A clean hand-over: c1-gw1's fence gone before c1-gw2's appears.
    fenceLooks: syntheticFenceLooks({ start: T - 200, durationMs: 3500, gateways: ['c1-gw1', 'c1-gw2'], live: (g, t) => (g === 'c1-gw1' ? t < T + 915 : t >= T + 922) }),
    initialEips: [{ gateway: 'c1-gw1', ip: EIP }],
    ...over,
  };
}

describe('trial evaluation', () => {
  it('passes a clean failover and reports the worst flow', () => {
    const { result } = evaluateTrial(measurement(), assertions);
    expect(result.violations).toEqual([]);
    expect(result.outageMs).toBe(220); // egress: 790 → 1010
    expect(result.takeoverGateway).toBe('c1-gw2');
    expect(result.eipConflict).toBe(false);
    expect(result.recovered).toBe(true);
    expect(result.flows.map((f) => f.tcp?.survived)).toEqual([true, false]);
  });

  it('names every broken assertion', () => {
    const m = measurement(
      {
        events: [
          { at: T, kind: 'route', cluster: 'c1', gateway: 'c1-gw1' },
          { at: T + 1000, kind: 'eip-add', gateway: 'c1-gw2', ip: EIP },
        ],
        fenceLooks: syntheticFenceLooks({ start: T - 200, durationMs: 3500, gateways: ['c1-gw1', 'c1-gw2'], live: (g, t) => g === 'c1-gw1' || t >= T + 1000 }),
      },
      (t) => (t > T + 1000 ? '172.31.0.12:4000' : `${EIP}:4000`),
    );
    m.flows[0]!.tcp = syntheticTcp({ start: T, durationMs: 3300, brokeAt: T + 900 });
    const { result } = evaluateTrial(m, assertions);
    expect(result.violations.join('\n')).toMatch(/expected c1-gw2 to take over, traffic ended on c1-gw1/);
    expect(result.violations.join('\n')).toMatch(/egress IP 172\.31\.0\.200 was live on c1-gw1 and c1-gw2 for 2289 ms: c1-gw1 had .* both were live from fault\+201 ms to fault\+2490 ms/);
    expect(result.violations.join('\n')).toMatch(/server saw source 172\.31\.0\.12/);
    expect(result.violations.join('\n')).toMatch(/cross-cluster TCP stream broke/);
    expect(result.wrongSourceIPs).toEqual(['172.31.0.12']);
  });

  it('fails a trial whose traffic never recovers', () => {
    const m = measurement();
    m.flows[0]!.udp = syntheticUdp({ start: T, durationMs: 3300, lossFrom: T + 800 });
    const { result } = evaluateTrial(m, assertions);
    expect(result.recovered).toBe(false);
    expect(result.violations.join('\n')).toMatch(/cross-cluster traffic did not recover/);
  });
});

describe('reports', () => {
  const a = evaluateTrial(measurement(), assertions);
  const b = evaluateTrial(measurement({ index: 2, fault: 'link-down', faultKind: 'link-down', events: [{ at: T, kind: 'route', cluster: 'c1', gateway: 'c1-gw1' }] }), assertions);
  const report: RunReport = { scenario: 'gateway-failover', profile: 'default', runId: 'abc123', startedAt: new Date(T).toISOString(), trials: [a.result, b.result], summary: summariseRun([a.result, b.result]) };

  it('summarises per fault and overall', () => {
    expect(report.summary.trials).toBe(2);
    expect(report.summary.failed).toBe(1);
    expect(report.summary.byFault['gateway-sigkill']!.p99OutageMs).toBe(220);
    expect(report.summary.p50OutageMs).toBe(220);
  });

  it('renders an SVG timeline with the fault, the outage and gateway colours', () => {
    const svg = renderTrialSvg(a.result, a.timeline);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('fault');
    expect(svg).toContain('220 ms');
    expect(svg).toContain('takeover c1-gw2 (as expected)');
    expect(svg).toContain(gatewayColours(['c1-gw1', 'c1-gw2'])['c1-gw2']!);
    expect(svg).toContain('connection broke');
    expect(svg).toContain('PASS');
    expect(renderTrialSvg(b.result, b.timeline)).toContain('FAIL');
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it('renders Markdown with the distribution, each trial and the violations', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('| `gateway-sigkill` | 1 | 220 |');
    expect(md).toContain('## Violations');
    expect(md).toMatch(/trial 2 \(link-down\): expected c1-gw2 to take over/);
  });

  it('writes the report directory and the --json shape', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strait-report-'));
    try {
      writeTrialFiles(dir, a.result, a.timeline);
      const { json, markdown } = writeRunReport(dir, report);
      expect(existsSync(join(dir, 'trial-1.svg'))).toBe(true);
      expect(JSON.parse(readFileSync(json, 'utf8')).summary.trials).toBe(2);
      expect(readFileSync(markdown, 'utf8')).toContain('# Scenario');
      const out = jsonOutput(report, dir) as { trials: { fault: string; outageMs: number; lost: number }[]; summary: { p50OutageMs: number; p99OutageMs: number; eipConflicts: number; wrongSourceIPs: number } };
      expect(out.trials[0]).toMatchObject({ fault: 'gateway-sigkill', outageMs: 220, lost: 34 });
      expect(out.summary).toMatchObject({ p99OutageMs: 220, eipConflicts: 0, wrongSourceIPs: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench section', () => {
  it('replaces only the ## Failover section of docs/benchmarks.md', async () => {
    const { replaceSection } = await import('../runner/bench.js');
    const doc = '# B\n\n## Tunnels\nt\n\n## Failover\nold\n\n## Other\no\n';
    expect(replaceSection(doc, '## Failover\nnew\n')).toBe('# B\n\n## Tunnels\nt\n\n## Failover\nnew\n\n## Other\no\n');
    expect(replaceSection('# B\n', '## Failover\nx\n')).toBe('# B\n\n## Failover\nx\n');
  });
});
