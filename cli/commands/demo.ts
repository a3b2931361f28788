import type { Command } from '@commander-js/extra-typings';
import type { RunEvent } from '../../scenarios/index.js';

/** `within the goal` or `OVER the goal by N ms`: said plainly, so a slow failover is never read as a pass. */
export function goalVerdict(outageMs: number, goalMs: number): string {
  return outageMs <= goalMs ? `within the profile's goal of ${goalMs} ms` : `OVER the profile's goal of ${goalMs} ms by ${Math.round(outageMs - goalMs)} ms`;
}

/**
 * `strait demo` (= `strait demo failover`): the README's first command. The `demo` group is shared with other
 * demos (`strait demo ipam`), so this finds or creates it and makes failover the default subcommand.
 */
export function registerDemoCommand(program: Command): void {
  const demo = (program.commands.find((c) => c.name() === 'demo') as Command | undefined) ?? program.command('demo').description('Runnable demonstrations (need root)');
  demo
    .command('failover', { isDefault: true })
    .description('Two clusters with two gateways each, WireGuard, an egress IP; kill the active gateway and measure the outage')
    .option('--profile <profile>', 'failover profile: default or fast', 'default')
    .action(async (o) => {
      const [{ StraitError }, { PROFILES }, { runFailoverDemo }] = await Promise.all([import('../../api/index.js'), import('../../gateway/index.js'), import('../../scenarios/index.js')]);
      if (o.profile !== 'default' && o.profile !== 'fast') throw new StraitError('INVALID_ARGUMENT', `--profile must be default or fast, got ${o.profile}`);
      const t0 = Date.now();
      const say = (m: string): void => void process.stdout.write(`${m}\n`);
      const stamp = (m: string): void => say(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${m}`);
      say('strait demo: gateway failover between two clusters');
      const onEvent = (e: RunEvent): void => {
        if (e.type === 'trial-start') stamp(`traffic running (UDP every 10 ms + a TCP stream, to ${'the other cluster and the external server'}); then SIGKILL of the active gateway agent`);
      };
      const { report, reportDir } = await runFailoverDemo({ profile: o.profile, onStep: (m) => stamp(m), onEvent });
      const t = report.trials[0]!;
      const goalMs = PROFILES[o.profile].outageGoalMs;
      say('');
      say(`Killed ${t.faultedGateway}; ${t.takeoverGateway ?? 'no gateway'} took over.`);
      for (const f of t.flows) {
        say(`  ${f.kind.padEnd(13)} outage ${String(f.udp.outageMs).padStart(6)} ms (${goalVerdict(f.udp.outageMs, goalMs)}), ${f.udp.lost} of ${f.udp.sent} probes lost, source seen by the server: ${f.expectedSource}${f.udp.wrongSourceIPs.length ? ` (WRONG: ${f.udp.wrongSourceIPs.map((w) => w.ip).join(', ')})` : ''}` + (f.tcp ? `, TCP stream ${f.tcp.survived ? 'survived' : 'broke'}` : ''));
      }
      say(`  egress IP on two gateways at once: ${t.eipConflict ? 'YES' : 'never'}`);
      const over = t.outageMs > goalMs;
      say(`Measured outage: ${t.outageMs} ms, profile ${report.profile}: ${goalVerdict(t.outageMs, goalMs)}.`);
      say(t.violations.length ? `Problems: ${t.violations.join('; ')}` : over ? 'Correctness checks passed, but the outage was over the goal (one trial on this machine; `npm run bench:failover` measures the distribution).' : 'All checks passed.');
      say(`Report: ${reportDir}/summary.md, timeline ${reportDir}/trial-1.svg`);
      say(`Done in ${((Date.now() - t0) / 1000).toFixed(1)} s; the lab is torn down.`);
      if (t.violations.length) process.exitCode = 1;
    });
}
