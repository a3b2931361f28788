import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StraitError } from '../../api/index.js';
import { dirname, join } from 'node:path';
import type { OutageSummary, RunReport } from '../report/model.js';
import { runScenarioCommand } from './main.js';
import type { Profile } from '../model/scenario.js';

/**
 * `npm run bench:failover`: the built-in gateway-failover scenario, N trials per fault (default 20) for each
 * profile, and the distribution written to docs/benchmarks.md `## Failover`, next to the anchors' published
 * figures and the goals (p99 ≤ 300 ms default, ≤ 100 ms fast).
 *
 * Flags: `--trials N`, `--profile default|fast` (one profile only), `--no-doc` (do not touch docs/benchmarks.md),
 * `--from DIR,DIR` (no run: render the section from the report directories of earlier runs, e.g. one per profile).
 * The host's 1-minute load average is sampled every 5 s during a run and kept beside the report (`load.json`).
 */

const ANCHORS = [
  ['Submariner (standby takeover after the 15 s leader lease; health check 1 s × 5)', '≥ 15 000', 15_000],
  ['spidernet-io/egressgateway (failover switched on)', '15 000 – 20 000', 15_000],
  ['Antrea multi-cluster gateway (waits for the node to turn NotReady)', '≥ 40 000', 40_000],
] as const;

function ms(v: number | null): string {
  return v === null ? '–' : String(Math.round(v));
}

export interface LoadSummary {
  samples: number;
  min: number;
  mean: number;
  max: number;
}

export function summariseLoad(samples: readonly number[]): LoadSummary | null {
  if (samples.length === 0) return null;
  const r = (v: number): number => Math.round(v * 10) / 10;
  return { samples: samples.length, min: r(Math.min(...samples)), mean: r(samples.reduce((a, b) => a + b, 0) / samples.length), max: r(Math.max(...samples)) };
}

function row(profile: string, fault: string, s: OutageSummary): string {
  return `| ${profile} | ${fault} | ${s.trials} | ${ms(s.p50OutageMs)} | ${ms(s.p95OutageMs)} | ${ms(s.p99OutageMs)} | ${ms(s.maxOutageMs)} | ${s.eipConflicts} | ${s.wrongSourceIPs} | ${s.failed} |`;
}

export interface BenchRun {
  report: RunReport;
  reportDir: string;
  load?: LoadSummary | null;
}

export function renderFailoverSection(reports: readonly BenchRun[], trials: number, machine: string, command?: string): string {
  const loads = reports.filter((r) => r.load).map((r) => `${r.report.profile} ${r.load!.min}–${r.load!.max} (mean ${r.load!.mean})`);
  const lines = [
    '## Failover',
    '',
    `Command: \`${command ?? `npm run bench:failover${trials === 20 ? '' : ` -- --trials ${trials}`}`}\` (= \`strait scenario run gateway-failover --trials ${trials} --profile default|fast\`; 20 trials per fault by default), ${new Date().toISOString().slice(0, 10)}, ${machine}.`,
    ...(loads.length ? [`Host load average (1 min, sampled every 5 s) during the runs: ${loads.join('; ')}.`] : []),
    'A trial that did not recover counts its outage up to the end of the trial (a lower bound) and is in the failed column.',
    'Outage = longest gap between answered UDP probes (every 10 ms, pod → pod in the other cluster over WireGuard, and pod →',
    'external server through the egress IP), worst flow per trial. EIP conflicts = trials in which the egress IP was live on',
    'two gateways at once (kernel fences read every 10 ms through a running nft, overlaps counted only when certain); wrong source IP = trials in which a server saw another source.',
    '',
    '| profile | fault | trials | p50 ms | p95 ms | p99 ms | max ms | EIP conflicts | wrong source IP | failed |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { report } of reports) {
    for (const [f, s] of Object.entries(report.summary.byFault)) lines.push(row(report.profile, `\`${f}\``, s));
    lines.push(row(report.profile, '**all faults**', report.summary));
  }
  const goal: Record<string, number> = { default: 300, fast: 100 };
  lines.push('', '| | outage (ms) | ratio to our p99 |', '|---|---|---|');
  for (const { report } of reports) {
    const p99 = report.summary.p99OutageMs;
    lines.push(`| **Strait, profile ${report.profile}: p99 (goal ≤ ${goal[report.profile]})** | ${ms(p99)} | 1× |`);
  }
  const best = Math.min(...reports.map((r) => r.report.summary.p99OutageMs ?? Infinity));
  for (const [name, v, low] of ANCHORS) {
    lines.push(`| ${name} | ${v} | ${Number.isFinite(best) && best > 0 ? `≥ ${Math.round(low / best)}× slower than our best p99` : '–'} |`);
  }
  for (const { report } of reports) {
    for (const k of report.skipped ?? []) lines.push('', `Profile ${report.profile}: trial ${k.index} (\`${k.fault}\`) could not run and is not in the table: ${k.error}.`);
  }
  lines.push('', 'Anchors: the peers\' published defaults and their users\' issue reports, not measured here.');
  lines.push('Reports (per-trial SVG timelines): ' + reports.map((r) => `\`${r.reportDir}\``).join(', ') + '.', '');
  return lines.join('\n');
}

/** Replaces the `## Failover` section of docs/benchmarks.md (up to the next `## `), leaving the rest alone. */
export function replaceSection(doc: string, section: string): string {
  const start = doc.indexOf('\n## Failover');
  if (start < 0) return `${doc.trimEnd()}\n\n${section}`;
  const next = doc.indexOf('\n## ', start + 1);
  return `${doc.slice(0, start + 1)}${section}${next < 0 ? '' : doc.slice(next)}`;
}

export const BENCH_USAGE = `usage: npm run bench:failover -- [--trials N] [--profile default|fast] [--no-doc]
       npm run bench:failover -- --from REPORT_DIR[,REPORT_DIR…] [--command TEXT]
Runs the built-in gateway-failover scenario N times per fault (default 20) for each profile (default: both) and
writes the distribution to docs/benchmarks.md (## Failover); --from rewrites that section from earlier reports.
`;

export interface BenchArgs {
  readonly help: boolean;
  readonly trials: number;
  readonly profiles: Profile[];
  readonly doc: boolean;
  readonly from?: string;
  readonly command?: string;
}

/** The bench's flags; an unknown flag or a bad value is an error (a typo must not start a 40-minute run). */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let v;
  try {
    v = parseArgs({
      args: [...argv],
      options: {
        help: { type: 'boolean', short: 'h' }, trials: { type: 'string' }, profile: { type: 'string' },
        'no-doc': { type: 'boolean' }, from: { type: 'string' }, command: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new StraitError('INVALID_ARGUMENT', `${(e as Error).message}\n${BENCH_USAGE}`);
  }
  const trials = v.trials === undefined ? 20 : Number(v.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new StraitError('INVALID_ARGUMENT', `--trials ${v.trials}: expected a positive integer`);
  if (v.profile !== undefined && v.profile !== 'default' && v.profile !== 'fast') {
    throw new StraitError('INVALID_ARGUMENT', `--profile ${v.profile}: expected default or fast`);
  }
  return {
    help: v.help === true,
    trials,
    profiles: v.profile ? [v.profile] : ['default', 'fast'],
    doc: v['no-doc'] !== true,
    ...(v.from !== undefined ? { from: v.from } : {}),
    ...(v.command !== undefined ? { command: v.command } : {}),
  };
}

function readRun(reportDir: string): BenchRun {
  const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as RunReport;
  const loadFile = join(reportDir, 'load.json');
  const load = existsSync(loadFile) ? (JSON.parse(readFileSync(loadFile, 'utf8')) as LoadSummary) : null;
  return { report, reportDir, load };
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(BENCH_USAGE);
    return;
  }
  const { trials, profiles } = args;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const docPath = join(root, 'docs', 'benchmarks.md');
  const cpus = (await import('node:os')).cpus().length;
  const machine = `${cpus} cores, machine shared with other work`;
  const from = args.from;
  if (from) {
    const runs = from.split(',').filter(Boolean).map(readRun);
    const n = Math.max(...runs.flatMap((r) => Object.values(r.report.summary.byFault).map((f) => f.trials)));
    writeFileSync(docPath, replaceSection(readFileSync(docPath, 'utf8'), renderFailoverSection(runs, n, machine, args.command)));
    process.stdout.write(`wrote ${docPath} (## Failover) from ${runs.length} runs\n`);
    return;
  }
  const reports: BenchRun[] = [];
  for (const profile of profiles) {
    const samples: number[] = [loadavg()[0] ?? 0];
    const sampler = setInterval(() => samples.push(loadavg()[0] ?? 0), 5000);
    process.stdout.write(`== gateway-failover, profile ${profile}, ${trials} trials per fault\n`);
    // One profile failing (e.g. a lab that cannot come up) must not lose the other's figures.
    const r = await runScenarioCommand({
      scenario: 'gateway-failover',
      trials,
      profile,
      onStep: (m) => process.stdout.write(`  ${m}\n`),
      onEvent: (e) => {
        if (e.type === 'trial-done') process.stdout.write(`  [${e.index}/${e.total}] ${e.result.fault}: ${e.result.outageMs} ms${e.result.violations.length ? ` FAIL ${e.result.violations.join('; ')}` : ''}\n`);
        else if (e.type === 'note') process.stdout.write(`  note: ${e.message}\n`);
      },
    })
      .catch((e: unknown) => {
        process.stdout.write(`  profile ${profile} failed: ${e instanceof Error ? e.message : String(e)}\n`);
        return null;
      })
      .finally(() => clearInterval(sampler));
    if (!r) continue;
    const load = summariseLoad(samples);
    writeFileSync(join(r.reportDir, 'load.json'), JSON.stringify(load));
    const s = r.report.summary;
    process.stdout.write(`  p50 ${ms(s.p50OutageMs)} ms, p95 ${ms(s.p95OutageMs)} ms, p99 ${ms(s.p99OutageMs)} ms, max ${ms(s.maxOutageMs)} ms; vs Submariner's 15 s lease: ${s.p99OutageMs ? Math.round(15000 / s.p99OutageMs) : '–'}× faster at p99\n`);
    process.stdout.write(`  load average during the run: ${load ? `${load.min}–${load.max}, mean ${load.mean}` : '–'}; report ${r.reportDir}\n`);
    reports.push({ ...r, load });
  }
  if (!args.doc) return;
  writeFileSync(docPath, replaceSection(readFileSync(docPath, 'utf8'), renderFailoverSection(reports, trials, machine)));
  process.stdout.write(`wrote ${docPath} (## Failover)\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
