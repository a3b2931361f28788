import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabState, writeLabState, type LabState } from './state.js';
import { teardownRun } from './teardown.js';

// A run with nothing in the kernel (no namespaces carry this id), only its run directory: no root needed.
describe('teardownRun', () => {
  const base = mkdtempSync(join(tmpdir(), 'strait-teardown-'));
  const saved = process.env.STRAIT_RUN_BASE;
  process.env.STRAIT_RUN_BASE = base;
  afterAll(() => {
    if (saved === undefined) delete process.env.STRAIT_RUN_BASE;
    else process.env.STRAIT_RUN_BASE = saved;
    rmSync(base, { recursive: true, force: true });
  });
  const state = (runId: string): LabState => ({
    version: 1, runId, topologyName: 't', topology: { name: 't', clusters: [], hosts: [], segments: [] }, status: 'ready',
    createdAt: new Date(0).toISOString(), namespaces: [`st-${runId}-a`], hosts: {}, daemons: [], files: [],
  });

  it('keeps the run directory when asked (a failed test\'s logs), marked down, and removes it on the next teardown', async () => {
    const runId = 'zq7kep';
    writeLabState(state(runId));
    writeFileSync(join(base, runId, 'gw1.log'), 'why it failed\n');
    await teardownRun(runId, { keepRunDir: true });
    expect(existsSync(join(base, runId, 'gw1.log'))).toBe(true);
    expect(readLabState(runId)?.status).toBe('down');
    await teardownRun(runId);
    expect(existsSync(join(base, runId))).toBe(false);
  });
});
