import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, procStatFields } from '../../host/index.js';
import { probeAgentPath, waitForLine } from '../probes/traffic.js';
import { startHostStallWatch } from './host-stalls.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Each thread of `pid`: its id, scheduling policy (2 = SCHED_RR) and realtime priority, from /proc (stat fields 41, 40). */
function threadPolicies(pid: number): { tid: number; policy: number; rtPriority: number }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const f = procStatFields(`/proc/${pid}/task/${tid}/stat`);
    return { tid: Number(tid), policy: Number(f[41 - 3]), rtPriority: Number(f[40 - 3]) };
  });
}

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

  it("raises only the watcher's main thread: its helper threads must not outrank the agents it watches", async () => {
    const w = await startHostStallWatch(dir, 1);
    try {
      if (w.pids.length === 0) return; // no taskset here: nothing runs
      const pid = w.pids[0]!;
      const threads = threadPolicies(pid);
      const main = threads.find((t) => t.tid === pid);
      if (main?.policy !== 2) return; // realtime scheduling not permitted here: nothing is raised
      expect(main.rtPriority).toBe(99);
      expect(threads.length).toBeGreaterThan(1);
      expect(threads.filter((t) => t.tid !== pid).every((t) => t.policy !== 2 && t.rtPriority === 0)).toBe(true);
    } finally {
      await w.stop();
    }
  });
});
