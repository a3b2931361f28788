import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../host/index.js';
import { probeAgentPath, waitForLine } from '../probes/traffic.js';
import { startHostStallWatch } from './host-stalls.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('host stall watch', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'strait-stalls-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the watcher records the time it did not run (a SIGSTOP stands in for a stopped CPU)', async () => {
    const out = join(dir, 'w.ndjson');
    const c = spawn(process.execPath, [probeAgentPath(), 'stall-watch', '--out', out, '--period', '2', '--min', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitForLine(c, /stall-watch ready/, 15_000, 'stall watcher');
      await sleep(100);
      const stoppedAt = Date.now();
      c.kill('SIGSTOP');
      await sleep(150);
      c.kill('SIGCONT');
      await sleep(100);
      const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { at: number; ms: number });
      const stop = lines.find((l) => l.ms >= 140);
      expect(stop).toBeDefined();
      expect(Math.abs(stop!.at - stoppedAt)).toBeLessThan(50);
    } finally {
      c.kill('SIGKILL');
    }
  });

  it('watches every CPU asked for and stops each watcher by its PID', async () => {
    const w = await startHostStallWatch(dir, 2);
    const rec0 = await (async () => {
      if (w.pids.length === 0) return w.stop();
      expect(w.pids).toHaveLength(2);
      process.kill(w.pids[1]!, 'SIGSTOP');
      await sleep(120);
      process.kill(w.pids[1]!, 'SIGCONT');
      await sleep(50);
      return w.stop();
    })();
    // Without taskset (or with fewer CPUs) the watch says why instead of failing the run.
    if (rec0.unavailable !== undefined) {
      expect(rec0.stalls).toEqual([]);
      return;
    }
    expect(rec0.stalls.some((s) => s.cpu === 1 && s.ms >= 110)).toBe(true);
    expect(w.pids.every((p) => !isAlive(p))).toBe(true);
    expect(await w.stop()).toBe(rec0);
  });
});
