import type { Command } from '@commander-js/extra-typings';
import type * as Scenarios from '../../scenarios/index.js';
import type { RunEvent } from '../../scenarios/index.js';

// Each action imports the scenarios room (and the catalog) on first use: `--help` and other commands load neither.
const scenarios = (): Promise<typeof Scenarios> => import('../../scenarios/index.js');

function fmtMs(v: number | null): string {
  return v === null ? '–' : `${Math.round(v)} ms`;
}

/** `strait scenario run|list|show`: chaos scenarios against a real lab (needs root). */
export function registerScenarioCommands(program: Command): void {
  const sc = program.command('scenario').description('Chaos scenarios: inject gateway faults into a lab and measure failover');
  sc.command('list')
    .description('List the built-in scenarios')
    .action(async () => {
      const { builtinScenarioNames, loadScenario } = await scenarios();
      for (const n of builtinScenarioNames()) {
        const s = loadScenario(n);
        process.stdout.write(`${n}\t${s.kind === 'steady' ? 'no fault' : `${s.faults.length} faults`}\t${s.description}\n`);
      }
    });
  sc.command('show')
    .description('Validate a scenario (built-in name or file) and print it with defaults filled in')
    .argument('<scenario>', 'built-in name or YAML file')
    .action(async (name) => {
      const { loadScenario } = await scenarios();
      process.stdout.write(`${JSON.stringify(loadScenario(name), null, 2)}\n`);
    });
  sc.command('run')
    .description('Run a scenario: every fault, N trials each; prints per-trial outage and a summary, writes a report directory')
    .argument('<scenario>', 'built-in name (e.g. gateway-failover) or YAML file')
    .option('--trials <n>', 'trials per fault (default: the scenario\'s trialsPerFault)')
    .option('--profile <profile>', 'failover profile: default or fast')
    .option('--report <dir>', 'report directory (default /tmp/strait-reports/<scenario>-<runid>)')
    .option('--only <faults>', 'comma-separated fault labels to run (default: all)')
    .option('--duration <seconds>', 'steady scenarios: how long traffic runs (default: the scenario\'s durationMs)')
    .option('--stress <spec>', 'run stress-ng on the host for the whole run: cpu=N[,io=M] (recorded in the report)')
    .option('--lease-stores <n>', 'the gateways\' lease stores: 3 (a quorum lease) or 1 (a single store, for comparison); default: the scenario\'s leaseStores (3)')
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)')
    .action(async (name, o) => {
      const [{ StraitError }, { jsonOutput, loadScenario, parseStressSpec, runScenarioCommand, runSteadyCommand, steadyJsonOutput }] = await Promise.all([import('../../api/index.js'), scenarios()]);
      const trials = o.trials === undefined ? undefined : Number.parseInt(o.trials, 10);
      if (trials !== undefined && !(trials >= 1 && trials <= 1000)) throw new StraitError('INVALID_ARGUMENT', `--trials must be 1..1000, got ${o.trials}`);
      if (o.profile !== undefined && o.profile !== 'default' && o.profile !== 'fast') throw new StraitError('INVALID_ARGUMENT', `--profile must be default or fast, got ${o.profile}`);
      const stress = o.stress === undefined ? undefined : parseStressSpec(o.stress);
      const leaseStores = o.leaseStores === undefined ? undefined : Number(o.leaseStores);
      if (leaseStores !== undefined && ![1, 3, 5].includes(leaseStores)) throw new StraitError('INVALID_ARGUMENT', `--lease-stores must be 1, 3 or 5, got ${o.leaseStores}`);
      const scenario = loadScenario(name);
      const out = o.json ? process.stderr : process.stdout;
      const say = (m: string): void => void out.write(`${m}\n`);
      if (scenario.kind === 'steady') {
        if (o.trials !== undefined || o.only !== undefined) throw new StraitError('INVALID_ARGUMENT', `${scenario.name} is a steady scenario (no fault): --trials and --only do not apply; use --duration`);
        const seconds = o.duration === undefined ? undefined : Number(o.duration);
        if (seconds !== undefined && !(Number.isInteger(seconds) && seconds >= 1 && seconds <= 86_400)) throw new StraitError('INVALID_ARGUMENT', `--duration must be whole seconds 1..86400, got ${o.duration}`);
        const { report, reportDir } = await runSteadyCommand({
          scenario,
          ...(seconds !== undefined ? { durationMs: seconds * 1000 } : {}),
          ...(o.profile ? { profile: o.profile as 'default' | 'fast' } : {}),
          ...(o.report ? { reportDir: o.report } : {}),
          ...(stress ? { stress } : {}),
          onStep: (m) => say(`  ${m}`),
        });
        say(
          `steady (${Math.round(report.durationMs / 1000)} s, profile ${report.profile}): role changes ${report.roleChanges}, lost probes ${report.lostProbes} of ${report.sentProbes}, ` +
            `longest egress gap ${fmtMs(report.egressGapMs)}, EIP conflicts ${report.eipConflicts.length}${report.violations.length ? ` — FAIL: ${report.violations.join('; ')}` : ''}`,
        );
        say(`report: ${reportDir}/summary.md`);
        if (o.json) process.stdout.write(`${JSON.stringify(steadyJsonOutput(report, reportDir), null, 2)}\n`);
        if (report.violations.length > 0) process.exitCode = 1;
        return;
      }
      if (o.duration !== undefined) throw new StraitError('INVALID_ARGUMENT', `--duration applies to steady scenarios only; ${scenario.name} is timed by its trials`);
      const onEvent = (e: RunEvent): void => {
        if (e.type === 'trial-start') say(`[${e.index}/${e.total}] ${e.fault}: traffic on, then the fault on the active gateway …`);
        else if (e.type === 'trial-done') {
          const t = e.result;
          const verdict = t.violations.length ? `FAIL: ${t.violations.join('; ')}` : 'ok';
          say(
            `[${e.index}/${e.total}] ${t.fault} on ${t.faultedGateway}: outage ${fmtMs(t.outageMs)}${t.recovered ? '' : ' (no recovery)'}, lost ${t.lost}, takeover ${t.takeoverGateway ?? 'none'}, ` +
              `eipConflict ${t.eipConflict ? 'YES' : 'no'}, wrongSourceIPs ${t.wrongSourceIPs.length ? t.wrongSourceIPs.join(',') : 'none'} — ${verdict}`,
          );
          // Each flow's TCP stream, asserted or not: whether egress flows survive is what conntrack sync is for.
          const tcp = t.flows.flatMap((f) => (f.tcp ? [`${f.kind} ${f.tcp.survived ? `survived (stalled ${fmtMs(f.tcp.stallMs)})` : 'broke'}`] : []));
          if (tcp.length) say(`    TCP streams: ${tcp.join(', ')}`);
        } else say(e.message);
      };
      const { report, reportDir } = await runScenarioCommand({
        scenario,
        ...(trials ? { trials } : {}),
        ...(o.profile ? { profile: o.profile as 'default' | 'fast' } : {}),
        ...(o.report ? { reportDir: o.report } : {}),
        ...(o.only ? { only: o.only.split(',').map((x) => x.trim()) } : {}),
        ...(stress ? { stress } : {}),
        ...(leaseStores ? { leaseStores } : {}),
        onStep: (m) => say(`  ${m}`),
        onEvent,
      });
      const s = report.summary;
      say(`summary (${s.trials} trials, profile ${report.profile}): p50 ${fmtMs(s.p50OutageMs)}, p95 ${fmtMs(s.p95OutageMs)}, p99 ${fmtMs(s.p99OutageMs)}, max ${fmtMs(s.maxOutageMs)}; EIP conflicts ${s.eipConflicts}, wrong source IPs ${s.wrongSourceIPs}, failed ${s.failed}`);
      say(`report: ${reportDir}/summary.md (timelines: ${reportDir}/trial-N.svg)`);
      if (o.json) process.stdout.write(`${JSON.stringify(jsonOutput(report, reportDir), null, 2)}\n`);
      if (s.failed > 0) process.exitCode = 1;
    });
}
