import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StraitError } from '../../api/index.js';
import { dirname, join } from 'node:path';
import type { OutageSummary, RunReport } from '../report/model.js';
import { hostStallsPerMinute } from '../report/host-stalls.js';
import { runScenarioCommand } from './main.js';
import { parseStressSpec, type StressSpec } from './stress.js';
import { run } from '../../host/index.js';
import type { Profile } from '../model/scenario.js';
import { PROFILES } from '../../gateway/index.js';

/**
 * `npm run bench:failover`: the built-in gateway-failover scenario, N trials per fault (default 20) for each
 * profile, once quiet and once beside stress-ng (`--stress`, default cpu=8), and both distributions written side by
 * side to docs/benchmarks.md `## Failover` with the commit, the host load, the anchors' published figures and the
 * profiles' goals. Each condition is built and run from its own clean export (`git archive HEAD`): figures come from
 * what is committed, as a fresh clone would run it, not from a working tree with edits or a stale dist/.
 *
 * Flags: see BENCH_USAGE. The host's 1-minute load average is sampled every 5 s during a run and kept beside the
 * report (`bench.json`: load, condition, commit).
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

/** Quiet: nothing else of ours runs; stressed: the same beside `stress-ng` (`--stress`, default cpu=8). */
export type BenchCondition = 'quiet' | 'stressed';

export interface BenchRun {
  report: RunReport;
  reportDir: string;
  load?: LoadSummary | null;
  /** Absent in reports of older benches: taken as quiet unless the report records a stress run. */
  condition?: BenchCondition;
  /** The commit the clean export was made from; `dirty`: the working tree it was run from had other changes. */
  commit?: string;
  dirty?: boolean;
}

function conditionOf(r: BenchRun): BenchCondition {
  return r.condition ?? (r.report.stress ? 'stressed' : 'quiet');
}

function cells(s: OutageSummary | undefined): string {
  return s ? `${s.trials} | ${ms(s.p50OutageMs)} | ${ms(s.p95OutageMs)} | ${ms(s.p99OutageMs)} | ${ms(s.maxOutageMs)} | ${s.eipConflicts} | ${s.failed}` : '– | – | – | – | – | – | –';
}

/**
 * The `## Failover` section: per profile and fault, the quiet and the stressed distribution side by side, with the
 * commit each was measured at, the host load during each and the stress command.
 */
export function renderFailoverSection(runs: readonly BenchRun[], trials: number, machine: string, command?: string): string {
  const commits = [...new Set(runs.map((r) => `${r.commit ?? 'unknown'}${r.dirty ? ' (tree had uncommitted changes, not in the export)' : ''}`))];
  const loads = runs.filter((r) => r.load).map((r) => `${r.report.profile} ${conditionOf(r)} ${r.load!.min}–${r.load!.max} (mean ${r.load!.mean})`);
  const stress = [...new Set(runs.flatMap((r) => (r.report.stress ? [`\`${r.report.stress.command.join(' ')}\``] : [])))];
  const lines = [
    '## Failover',
    '',
    `Command: \`${command ?? `npm run bench:failover${trials === 20 ? '' : ` -- --trials ${trials}`}`}\` (= \`strait scenario run gateway-failover --trials ${trials} --profile default|fast\`, once quiet and once with \`--stress\`; 20 trials per fault by default), ${new Date().toISOString().slice(0, 10)}, ${machine}.`,
    `Commit: ${commits.join(', ')}; each condition built and run from its own clean export (\`git archive\`) of it.`,
    ...(stress.length ? [`Stressed = beside ${stress.join(', ')} on the host for the whole run.`] : []),
    ...(loads.length ? [`Host load average (1 min, sampled every 5 s) during the runs: ${loads.join('; ')}.`] : []),
    'A trial that did not recover counts its outage up to the end of the trial (a lower bound) and is in the failed column.',
    'Outage = longest gap between answered UDP probes (every 10 ms, pod → pod in the other cluster over WireGuard, and pod →',
    'external server through the egress IP), worst flow per trial. EIP conflicts = trials in which the egress IP was certainly live',
    'on two gateways at the same instant (every fence look kept as evidence, see docs/scenarios.md); failed = trials that broke an assertion.',
    '',
    '| profile | fault | quiet: trials | p50 ms | p95 ms | p99 ms | max ms | EIP conflicts | failed | stressed: trials | p50 ms | p95 ms | p99 ms | max ms | EIP conflicts | failed |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const profiles = [...new Set(runs.map((r) => r.report.profile))];
  for (const profile of profiles) {
    const quiet = runs.find((r) => r.report.profile === profile && conditionOf(r) === 'quiet')?.report.summary;
    const stressed = runs.find((r) => r.report.profile === profile && conditionOf(r) === 'stressed')?.report.summary;
    const faults = [...new Set([...Object.keys(quiet?.byFault ?? {}), ...Object.keys(stressed?.byFault ?? {})])];
    for (const f of faults) lines.push(`| ${profile} | \`${f}\` | ${cells(quiet?.byFault[f])} | ${cells(stressed?.byFault[f])} |`);
    lines.push(`| ${profile} | **all faults** | ${cells(quiet)} | ${cells(stressed)} |`);
  }
  lines.push('', '| | quiet p99 (ms) | stressed p99 (ms) | goal | stressed ≤ 2× quiet |', '|---|---|---|---|---|');
  for (const profile of profiles) {
    const q = runs.find((r) => r.report.profile === profile && conditionOf(r) === 'quiet')?.report.summary.p99OutageMs ?? null;
    const st = runs.find((r) => r.report.profile === profile && conditionOf(r) === 'stressed')?.report.summary.p99OutageMs ?? null;
    const goal = PROFILES[profile].outageGoalMs;
    lines.push(`| **Strait, profile ${profile}** | ${ms(q)} | ${ms(st)} | p99 ≤ ${goal} quiet | ${q !== null && st !== null ? (st <= 2 * q ? 'yes' : '**no**') : '–'} |`);
  }
  const watched = runs.filter((r) => r.report.hostStalls && r.report.hostStalls.unavailable === undefined);
  if (watched.length) {
    const h = watched[0]!.report.hostStalls!;
    lines.push(
      '',
      `Host stalls: a CPU that did not run for ≥ ${h.countMs} ms (a watcher pinned to each CPU at SCHED_RR 99). The agents widen their margins for ` +
        `${Math.round(h.memoryMs / 1000)} s after one; "host never stalled" = the trials with none from ${Math.round(h.memoryMs / 1000)} s before their fault to their end (docs/scenarios.md).`,
      '',
      '| profile | condition | host stalls per minute | trials, host never stalled | p50 ms | p95 ms | p99 ms | max ms | EIP conflicts | failed |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of watched) {
      lines.push(`| ${r.report.profile} | ${conditionOf(r)} | ${hostStallsPerMinute(r.report.hostStalls!) ?? '–'} | ${cells(r.report.summary.hostStallFree)} |`);
    }
  }
  const best = Math.min(...runs.filter((r) => conditionOf(r) === 'quiet').map((r) => r.report.summary.p99OutageMs ?? Infinity));
  lines.push('', '| anchor | outage (ms) | ratio to our best quiet p99 |', '|---|---|---|');
  for (const [name, v, low] of ANCHORS) {
    lines.push(`| ${name} | ${v} | ${Number.isFinite(best) && best > 0 ? `≥ ${Math.round(low / best)}× slower` : '–'} |`);
  }
  for (const r of runs) {
    for (const k of r.report.skipped ?? []) lines.push('', `Profile ${r.report.profile}, ${conditionOf(r)}: trial ${k.index} (\`${k.fault}\`) could not run and is not in the table: ${k.error}.`);
  }
  lines.push('', 'Anchors: the peers\' published defaults and their users\' issue reports, not measured here.');
  lines.push('Reports (per-trial SVG timelines): ' + runs.map((r) => `\`${r.reportDir}\``).join(', ') + '.', '');
  return lines.join('\n');
}

/** Replaces the `## Failover` section of docs/benchmarks.md (up to the next `## `), leaving the rest alone. */
export function replaceSection(doc: string, section: string): string {
  const start = doc.indexOf('\n## Failover');
  if (start < 0) return `${doc.trimEnd()}\n\n${section}`;
  const next = doc.indexOf('\n## ', start + 1);
  return `${doc.slice(0, start + 1)}${section}${next < 0 ? '' : doc.slice(next)}`;
}

export const BENCH_USAGE = `usage: npm run bench:failover -- [--trials N] [--profile default|fast] [--only FAULT,…] [--stress SPEC]
                                   [--conditions quiet,stressed] [--no-doc]
       npm run bench:failover -- --from REPORT_DIR[,REPORT_DIR…] [--command TEXT]
Runs the built-in gateway-failover scenario N times per fault (default 20) for each profile (default: both), once
quiet and once beside stress-ng (--stress, default cpu=8), each condition built and run from its own clean export
(git archive) of HEAD, and writes both distributions side by side to docs/benchmarks.md (## Failover) with the commit
and the host load. --from rewrites that section from earlier reports.
`;

export interface BenchArgs {
  readonly help: boolean;
  readonly trials: number;
  readonly profiles: Profile[];
  readonly doc: boolean;
  readonly conditions: BenchCondition[];
  readonly stress: StressSpec;
  readonly only?: string[];
  readonly from?: string;
  readonly command?: string;
  /** Internal: run one condition in this (exported) build and list the report directories in `runsFile`. */
  readonly runOne?: { condition: BenchCondition; runsFile: string; commit: string; dirty: boolean };
}

/** The bench's flags; an unknown flag or a bad value is an error (a typo must not start a 40-minute run). */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let v;
  try {
    v = parseArgs({
      args: [...argv],
      options: {
        help: { type: 'boolean', short: 'h' }, trials: { type: 'string' }, profile: { type: 'string' },
        'no-doc': { type: 'boolean' }, from: { type: 'string' }, command: { type: 'string' }, only: { type: 'string' },
        stress: { type: 'string' }, conditions: { type: 'string' },
        'run-one': { type: 'string' }, 'runs-file': { type: 'string' }, commit: { type: 'string' }, dirty: { type: 'boolean' },
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
  const isCondition = (c: string): c is BenchCondition => c === 'quiet' || c === 'stressed';
  const conditions = (v.conditions ?? 'quiet,stressed').split(',').map((c) => c.trim());
  const bad = conditions.find((c) => !isCondition(c));
  if (bad !== undefined || conditions.length === 0) throw new StraitError('INVALID_ARGUMENT', `--conditions ${v.conditions}: expected quiet, stressed or both`);
  if (v['run-one'] !== undefined && (!isCondition(v['run-one']) || !v['runs-file'])) throw new StraitError('INVALID_ARGUMENT', '--run-one quiet|stressed needs --runs-file');
  const only = v.only?.split(',').map((f) => f.trim()).filter(Boolean);
  return {
    help: v.help === true,
    trials,
    profiles: v.profile ? [v.profile] : ['default', 'fast'],
    doc: v['no-doc'] !== true,
    conditions: [...new Set(conditions as BenchCondition[])],
    stress: parseStressSpec(v.stress ?? 'cpu=8'),
    ...(only?.length ? { only } : {}),
    ...(v.from !== undefined ? { from: v.from } : {}),
    ...(v.command !== undefined ? { command: v.command } : {}),
    ...(v['run-one'] !== undefined ? { runOne: { condition: v['run-one'] as BenchCondition, runsFile: v['runs-file']!, commit: v.commit ?? 'unknown', dirty: v.dirty === true } } : {}),
  };
}

function readRun(reportDir: string): BenchRun {
  const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as RunReport;
  const benchFile = join(reportDir, 'bench.json');
  const loadFile = join(reportDir, 'load.json');
  if (existsSync(benchFile)) {
    const b = JSON.parse(readFileSync(benchFile, 'utf8')) as Omit<BenchRun, 'report' | 'reportDir'>;
    return { ...b, report, reportDir };
  }
  const load = existsSync(loadFile) ? (JSON.parse(readFileSync(loadFile, 'utf8')) as LoadSummary) : null;
  return { report, reportDir, load };
}

/** One condition, every profile, in this build (the clean export): the report directories go to `runsFile`. */
async function runCondition(args: BenchArgs, one: NonNullable<BenchArgs['runOne']>): Promise<void> {
  const dirs: string[] = [];
  for (const profile of args.profiles) {
    const samples: number[] = [loadavg()[0] ?? 0];
    const sampler = setInterval(() => samples.push(loadavg()[0] ?? 0), 5000);
    process.stdout.write(`== gateway-failover, profile ${profile}, ${one.condition}, ${args.trials} trials per fault\n`);
    // One profile failing (e.g. a lab that cannot come up) must not lose the other's figures.
    const r = await runScenarioCommand({
      scenario: 'gateway-failover',
      trials: args.trials,
      profile,
      ...(args.only ? { only: args.only } : {}),
      ...(one.condition === 'stressed' ? { stress: args.stress } : {}),
      onStep: (m) => process.stdout.write(`  ${m}\n`),
      onEvent: (e) => {
        if (e.type === 'trial-done') process.stdout.write(`  [${e.index}/${e.total}] ${e.result.fault}: ${e.result.outageMs} ms${e.result.violations.length ? ` FAIL ${e.result.violations.join('; ')}` : ''}\n`);
        else if (e.type === 'note') process.stdout.write(`  note: ${e.message}\n`);
      },
    })
      .catch((e: unknown) => {
        process.stdout.write(`  profile ${profile} (${one.condition}) failed: ${e instanceof Error ? e.message : String(e)}\n`);
        return null;
      })
      .finally(() => clearInterval(sampler));
    if (!r) continue;
    const load = summariseLoad(samples);
    const meta: Omit<BenchRun, 'report' | 'reportDir'> = { load, condition: one.condition, commit: one.commit, dirty: one.dirty };
    writeFileSync(join(r.reportDir, 'load.json'), JSON.stringify(load));
    writeFileSync(join(r.reportDir, 'bench.json'), JSON.stringify(meta));
    const s = r.report.summary;
    process.stdout.write(`  p50 ${ms(s.p50OutageMs)} ms, p95 ${ms(s.p95OutageMs)} ms, p99 ${ms(s.p99OutageMs)} ms, max ${ms(s.maxOutageMs)} ms; conflicts ${s.eipConflicts}, failed ${s.failed}\n`);
    process.stdout.write(`  load average during the run: ${load ? `${load.min}–${load.max}, mean ${load.mean}` : '–'}; report ${r.reportDir}\n`);
    dirs.push(r.reportDir);
  }
  writeFileSync(one.runsFile, JSON.stringify(dirs));
}

/** A clean export of HEAD, built: what a fresh clone would run (uncommitted changes and stale dist/ stay out). */
async function cleanExport(root: string, commit: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `strait-bench-${commit.slice(0, 8)}-`));
  await run(['sh', '-c', 'git -C "$0" archive --format=tar "$1" | tar -x -C "$2"', root, commit, dir], { timeoutMs: 120_000 });
  // The dependencies of the same lock file; never installed into the export.
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  process.stdout.write(`== clean export of ${commit.slice(0, 12)} in ${dir}: building\n`);
  await run(['sh', '-c', 'cd "$0" && npm run -s build:bench', dir], { timeoutMs: 1_200_000 });
  return dir;
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(BENCH_USAGE);
    return;
  }
  if (args.runOne) return runCondition(args, args.runOne);
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const docPath = join(root, 'docs', 'benchmarks.md');
  const cpus = (await import('node:os')).cpus().length;
  const machine = `${cpus} cores, machine shared with other work`;
  if (args.from) {
    const runs = args.from.split(',').filter(Boolean).map(readRun);
    const n = Math.max(...runs.flatMap((r) => Object.values(r.report.summary.byFault).map((f) => f.trials)));
    writeFileSync(docPath, replaceSection(readFileSync(docPath, 'utf8'), renderFailoverSection(runs, n, machine, args.command)));
    process.stdout.write(`wrote ${docPath} (## Failover) from ${runs.length} runs\n`);
    return;
  }
  const commit = (await run(['git', '-C', root, 'rev-parse', 'HEAD'])).stdout.trim();
  const dirty = (await run(['git', '-C', root, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim() !== '';
  if (dirty) process.stdout.write(`note: the working tree has uncommitted changes; the bench measures the commit ${commit.slice(0, 12)} without them\n`);
  const runs: BenchRun[] = [];
  for (const condition of args.conditions) {
    const dir = await cleanExport(root, commit);
    try {
      const runsFile = join(dir, 'bench-runs.json');
      const passOn = process.argv.slice(2).filter((a, i, all) => !['--conditions', '--no-doc'].includes(a) && all[i - 1] !== '--conditions');
      const child = spawn(process.execPath, [join(dir, 'dist', 'scenarios', 'runner', 'bench.js'), ...passOn, '--run-one', condition, '--runs-file', runsFile, '--commit', commit, ...(dirty ? ['--dirty'] : [])], { stdio: 'inherit', cwd: dir });
      await new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (existsSync(runsFile)) runs.push(...(JSON.parse(readFileSync(runsFile, 'utf8')) as string[]).map(readRun));
      else process.stdout.write(`  ${condition}: the run wrote no reports\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (!args.doc || runs.length === 0) return;
  const command = `npm run bench:failover${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  writeFileSync(docPath, replaceSection(readFileSync(docPath, 'utf8'), renderFailoverSection(runs, args.trials, machine, command)));
  process.stdout.write(`wrote ${docPath} (## Failover)\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
