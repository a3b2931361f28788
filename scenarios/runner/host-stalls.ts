import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_JITTER_MEMORY_MS } from '../../gateway/index.js';
import { stopPid } from '../../host/index.js';
import type { HostStall, HostStallRecord } from '../report/model.js';
import { probeAgentPath, waitForLine } from '../probes/traffic.js';

/**
 * A watch on the host's CPUs beside a whole scenario run: one probe-agent `stall-watch` per CPU, pinned to it with
 * `taskset` and at SCHED_RR 99, so nothing in the guest delays it and every late wake-up is time that CPU did not
 * run at all. Why a run needs it: on the project VM the hypervisor stops a virtual CPU for ~100 ms at a time once
 * the guest keeps it busy (docs/gateways.md, "What stops the agents on a loaded VM"), and the agents, which must
 * survive such a stop, widen their margins for 30 s after one. Without the watch a slow trial cannot be told from
 * a slow failover; with it the report says which trials lived with a stalled host (report/host-stalls.ts).
 */
export const HOST_STALL_MIN_MS = 20;
/** Stalls at least this long count in the report: shorter ones are below every profile's margins. */
export const HOST_STALL_COUNT_MS = 50;
const PERIOD_MS = 2;

export interface HostStallWatch {
  /** The watchers' PIDs (one per CPU), empty when the watch is not available. */
  readonly pids: number[];
  /** Stops every watcher by its PID and reads what they saw; idempotent. */
  stop(): Promise<HostStallRecord>;
}

export async function startHostStallWatch(dir: string, cpus: number = availableParallelism()): Promise<HostStallWatch> {
  mkdirSync(dir, { recursive: true });
  const startedAt = Date.now();
  const base = { cpus, minMs: HOST_STALL_MIN_MS, countMs: HOST_STALL_COUNT_MS, memoryMs: DEFAULT_JITTER_MEMORY_MS, startedAt };
  const files = Array.from({ length: cpus }, (_, i) => join(dir, `host-stalls-cpu${i}.ndjson`));
  const children: ChildProcess[] = [];
  // By PID, each watcher started here (SIGTERM, SIGKILL after the grace): host's stopPid.
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.map((c) => (c.pid === undefined ? undefined : stopPid(c.pid))));
  };
  try {
    for (let i = 0; i < cpus; i++) {
      // `--single-threaded`: V8 runs no background tasks, so the watcher's main thread, the only one at RR 99
      // (probe-agent.mjs), never waits for a helper that runs at normal priority, and no helper outranks an agent.
      const argv = ['taskset', '-c', String(i), process.execPath, '--single-threaded', probeAgentPath(), 'stall-watch', '--out', files[i]!, '--period', String(PERIOD_MS), '--min', String(HOST_STALL_MIN_MS), '--rt', '99'];
      const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      await waitForLine(c, /stall-watch ready/, 15_000, `host stall watcher on cpu${i}`);
    }
  } catch (e) {
    // The run goes on without it: the watch explains figures, it does not make them.
    await stopAll();
    const unavailable = e instanceof Error ? e.message : String(e);
    return { pids: [], stop: () => Promise.resolve({ ...base, stoppedAt: Date.now(), stalls: [], unavailable }) };
  }
  let stopping: Promise<HostStallRecord> | undefined;
  return {
    pids: children.flatMap((c) => (c.pid === undefined ? [] : [c.pid])),
    stop: () =>
      (stopping ??= (async () => {
        await stopAll();
        const stalls: HostStall[] = [];
        files.forEach((f, cpu) => {
          if (!existsSync(f)) return;
          for (const line of readFileSync(f, 'utf8').split('\n')) {
            if (!line.trim()) continue;
            try {
              const j = JSON.parse(line) as { at: number; ms: number };
              stalls.push({ cpu, at: j.at, ms: j.ms });
            } catch {
              // the last line of a watcher killed while it wrote it
            }
          }
        });
        stalls.sort((a, b) => a.at - b.at);
        return { ...base, stoppedAt: Date.now(), stalls };
      })()),
  };
}
