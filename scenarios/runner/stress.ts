import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { StraitError } from '../../api/index.js';

/**
 * `strait scenario run … --stress cpu=N[,io=M]`: Debian's `stress-ng` on the host for the whole run, so failover is
 * judged beside CPU (and optionally I/O) hogs, as real gateway nodes run (issue #12: timing code is judged under
 * load). Started before the lab is built, stopped by its PID after teardown, recorded in the report.
 */
export interface StressSpec {
  /** CPU hogs (`stress-ng --cpu N`): 4 per core is "cpu=8" on the 2-core lab VM. */
  readonly cpu: number;
  /** I/O hogs (`stress-ng --io M`: sync() in a loop), 0 for none. */
  readonly io: number;
}

/** What the report says about the load a run ran beside. */
export interface StressRecord {
  readonly spec: string;
  readonly command: string[];
  readonly pid: number;
  readonly startedAt: string;
  /** 1/5/15-minute load averages when it started and when it was stopped. */
  readonly loadAvgAtStart: number[];
  stoppedAt?: string;
  loadAvgAtStop?: number[];
  /** How it ended: 'stopped' (by us), or the exit code/signal if it died on its own during the run. */
  ended?: string;
}

const MAX_WORKERS = 256;

/** Parses `cpu=N[,io=M]` (order free, each at most once). Bad input is a clear error and starts nothing. */
export function parseStressSpec(text: string): StressSpec {
  const bad = (why: string): StraitError =>
    new StraitError('INVALID_ARGUMENT', `--stress ${text}: ${why} (expected cpu=N[,io=M], e.g. cpu=8 or cpu=4,io=1)`, { stress: text });
  const seen = new Map<string, number>();
  for (const part of text.split(',')) {
    const m = /^\s*(cpu|io)=(\d+)\s*$/.exec(part);
    if (!m) throw bad(`"${part}" is not cpu=N or io=M`);
    const [, key = '', n = ''] = m;
    if (seen.has(key)) throw bad(`${key} given twice`);
    const v = Number(n);
    if (v > MAX_WORKERS) throw bad(`${key}=${v} is more than ${MAX_WORKERS} workers`);
    seen.set(key, v);
  }
  const cpu = seen.get('cpu');
  if (cpu === undefined || cpu < 1) throw bad('cpu=N with N >= 1 is required');
  return { cpu, io: seen.get('io') ?? 0 };
}

/** The spec as written back (`cpu=8,io=1`). */
export function formatStressSpec(s: StressSpec): string {
  return s.io ? `cpu=${s.cpu},io=${s.io}` : `cpu=${s.cpu}`;
}

/** The command: stress-ng under `setpriv --pdeathsig KILL`, so a runner killed hard leaves no hog behind. */
export function stressArgv(s: StressSpec): string[] {
  return ['setpriv', '--pdeathsig', 'KILL', '--', 'stress-ng', '--cpu', String(s.cpu), ...(s.io ? ['--io', String(s.io)] : []), '--quiet'];
}

export interface StressRun {
  readonly record: StressRecord;
  /** Stops it by its PID (SIGTERM, SIGKILL after 5 s) and completes the record; idempotent. */
  stop(): Promise<StressRecord>;
}

const round = (xs: number[]): number[] => xs.map((x) => Math.round(x * 100) / 100);

/** Starts the hogs on the host (not in a lab namespace: they compete for the CPUs every namespace shares). */
export async function startStress(s: StressSpec): Promise<StressRun> {
  const command = stressArgv(s);
  const child: ChildProcess = spawn(command[0] ?? 'setpriv', command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`)));
  // A missing stress-ng (or setpriv) fails at once: give it a moment to, so the run does not start unloaded.
  const early = await Promise.race([
    new Promise<string>((resolve) => child.once('error', (e) => resolve(`cannot start: ${e.message}`))),
    exited,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 300)),
  ]);
  if (early !== undefined || child.pid === undefined) {
    throw new StraitError('UNAVAILABLE', `--stress: stress-ng did not start (${early ?? 'no pid'}${stderr ? `: ${stderr.trim()}` : ''}); install it with apt-get install stress-ng`);
  }
  const pid = child.pid;
  const record: StressRecord = { spec: formatStressSpec(s), command, pid, startedAt: new Date().toISOString(), loadAvgAtStart: round(loadavg()) };
  let ended: string | undefined;
  void exited.then((how) => void (ended ??= how));
  let stopping: Promise<StressRecord> | undefined;
  const stop = (): Promise<StressRecord> =>
    (stopping ??= (async () => {
      record.loadAvgAtStop = round(loadavg());
      if (ended === undefined) {
        ended = 'stopped';
        try {
          process.kill(pid, 'SIGTERM');
        } catch {}
        const killer = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
        }, 5000);
        await exited;
        clearTimeout(killer);
      }
      record.ended = ended;
      record.stoppedAt = new Date().toISOString();
      return record;
    })());
  return { record, stop };
}
