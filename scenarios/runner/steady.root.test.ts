import { expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRoot } from '../../testing/index.js';
import { loadScenario } from '../model/scenario-files.js';
import { runSteadyCommand, steadyJsonOutput } from './steady.js';

// The built-in steady scenario, short: a healthy lab with traffic and no fault keeps its roles, its egress IP on
// one gateway, and every flow answered. Invariants only; how much a loaded host loses is measured, not asserted.
describeRoot('steady scenario (real lab, root)', () => {
  it('no fault: no role change, no conflict, every flow answered from the right source, the summary carries the figures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strait-steady-'));
    let failed = true;
    try {
      const { report } = await runSteadyCommand({ scenario: loadScenario('steady'), durationMs: 5000, reportDir: dir });
      const out = steadyJsonOutput(report, dir) as Record<string, unknown>;
      expect(Object.keys(out)).toEqual(expect.arrayContaining(['roleChanges', 'lostProbes', 'egressGapMs']));
      expect(report.sentProbes).toBeGreaterThan(500);
      expect(typeof report.egressGapMs).toBe('number');
      expect({ roleChanges: report.roleChanges, violations: report.violations }).toEqual({ roleChanges: 0, violations: [] });
      expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toMatch(/role changes/);
      // The gateways' logs were read for fence lapses (how many a loaded host has is measured, not asserted).
      expect(Array.isArray(report.fenceLapses)).toBe(true);
      expect(out.fenceLapses).toEqual(report.fenceLapses);
      failed = false;
    } finally {
      if (failed) console.error(`steady report kept in ${dir}:\n${existsSync(join(dir, 'summary.md')) ? readFileSync(join(dir, 'summary.md'), 'utf8') : '(none)'}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
