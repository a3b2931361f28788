import type { OutageSummary, RunReport } from './model.js';
import { formatTrialStalls, hostStallsPerMinute } from './host-stalls.js';

/** The Markdown summary of a run: the distribution first, then one row per trial, then every violation. */

function ms(v: number | null): string {
  return v === null ? '–' : `${Number.isInteger(v) ? v : v.toFixed(1)}`;
}

function summaryRow(label: string, s: OutageSummary): string {
  return `| ${label} | ${s.trials} | ${ms(s.p50OutageMs)} | ${ms(s.p95OutageMs)} | ${ms(s.p99OutageMs)} | ${ms(s.maxOutageMs)} | ${s.lost} | ${s.eipConflicts} | ${s.wrongSourceIPs} | ${s.failed} |`;
}

/** What the host stall watch saw, and what "host never stalled" means. */
function hostStallLines(r: RunReport): string[] {
  const h = r.hostStalls;
  if (!h) return [];
  if (h.unavailable !== undefined) return [`Host stall watch: not available (${h.unavailable}).`, ''];
  return [
    `Host stalls: a CPU that did not run for ≥ ${h.countMs} ms, seen by a watcher pinned to each of the ${h.cpus} CPUs at SCHED_RR 99 ` +
      `(${hostStallsPerMinute(h) ?? '–'} per minute over the run). "Host never stalled" = the trials with none from ${Math.round(h.memoryMs / 1000)} s ` +
      'before their fault (the agents\' stall memory) to their end: the failover itself, without the margins a stalled host makes the agents keep.',
    '',
  ];
}

export function renderMarkdown(r: RunReport): string {
  const s = r.summary;
  const lines: string[] = [
    `# Scenario \`${r.scenario}\` — profile \`${r.profile}\``,
    '',
    `Run \`${r.runId}\`, started ${r.startedAt}. ${s.trials} trials, ${s.failed === 0 ? '**all passed**' : `**${s.failed} failed**`}.` +
      (r.skipped?.length ? ` **${r.skipped.length} could not run**: ${r.skipped.map((k) => `#${k.index} ${k.fault} (${k.error})`).join('; ')}.` : ''),
    ...(r.stress
      ? [`Under stress: \`${r.stress.command.join(' ')}\` (pid ${r.stress.pid}) from ${r.stress.startedAt} to ${r.stress.stoppedAt ?? '?'} (${r.stress.ended ?? 'running'}); load average ${r.stress.loadAvgAtStart.join(' ')} at its start, ${r.stress.loadAvgAtStop?.join(' ') ?? '?'} at its stop.`]
      : []),
    'Outage = the longest gap between answered probes around the fault (UDP every few ms, worst flow of the trial).',
    '',
    '## Outage distribution (ms)',
    '',
    '| fault | trials | p50 | p95 | p99 | max | lost probes | EIP conflicts | wrong source IP | failed |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...Object.entries(s.byFault).map(([f, fs]) => summaryRow(`\`${f}\``, fs)),
    summaryRow('**all**', s),
    ...(s.hostStallFree ? [summaryRow('all, host never stalled', s.hostStallFree)] : []),
    '',
    ...hostStallLines(r),
    '## Trials',
    '',
    '| # | fault | outage ms | lost | takeover | EIP conflict | wrong source IPs | TCP | host stalls (from the fault) | result | timeline |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const t of r.trials) {
    const tcp = t.flows
      .filter((f) => f.tcp)
      .map((f) => `${f.kind}: ${f.tcp!.survived ? 'survived' : 'broke'}`)
      .join(', ');
    lines.push(
      `| ${t.index} | ${t.fault} | ${ms(t.outageMs)}${t.recovered ? '' : ' (no recovery)'} | ${t.lost} | ${t.takeoverGateway ?? '–'} | ${t.eipConflict ? '**yes**' : 'no'} | ${t.wrongSourceIPs.join(', ') || 'none'} | ${tcp || '–'} | ${formatTrialStalls(t.hostStalls)} | ${t.violations.length ? '**FAIL**' : 'pass'} | [svg](trial-${t.index}.svg) |`,
    );
  }
  const failed = r.trials.filter((t) => t.violations.length > 0);
  if (failed.length) {
    lines.push('', '## Violations', '');
    for (const t of failed) for (const v of t.violations) lines.push(`- trial ${t.index} (${t.fault}): ${v}`);
  }
  lines.push('');
  return lines.join('\n');
}
