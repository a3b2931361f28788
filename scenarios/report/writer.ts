import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMarkdown } from './markdown.js';
import type { RunReport, TrialResult, TrialTimeline } from './model.js';
import { renderTrialSvg } from './svg.js';

/**
 * Writes a run's report directory: `report.json` (everything), `summary.md`, and per trial `trial-N.svg` plus
 * `trial-N.timeline.json` (the raw probe records and gateway events the SVG was drawn from).
 */
export function writeTrialFiles(dir: string, t: TrialResult, tl: TrialTimeline): string {
  mkdirSync(dir, { recursive: true });
  const svg = join(dir, `trial-${t.index}.svg`);
  writeFileSync(svg, renderTrialSvg(t, tl));
  writeFileSync(join(dir, `trial-${t.index}.timeline.json`), JSON.stringify(tl));
  return svg;
}

export function writeRunReport(dir: string, r: RunReport): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'summary.md');
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(markdown, renderMarkdown(r));
  return { json, markdown };
}

/** The `--json` shape: per trial the headline figures, and the summary. */
export function jsonOutput(r: RunReport, reportDir: string | null): unknown {
  return {
    scenario: r.scenario,
    profile: r.profile,
    runId: r.runId,
    reportDir,
    trials: r.trials.map((t) => ({
      index: t.index,
      fault: t.fault,
      outageMs: t.outageMs,
      lost: t.lost,
      recovered: t.recovered,
      faultedGateway: t.faultedGateway,
      takeoverGateway: t.takeoverGateway,
      eipConflict: t.eipConflict,
      wrongSourceIPs: t.wrongSourceIPs,
      tcp: Object.fromEntries(t.flows.filter((f) => f.tcp).map((f) => [f.kind, f.tcp!.survived ? 'survived' : 'broke'])),
      violations: t.violations,
      ...(t.hostStalls ? { hostStalls: t.hostStalls } : {}),
    })),
    summary: r.summary,
    ...(r.stress ? { stress: r.stress } : {}),
  };
}
