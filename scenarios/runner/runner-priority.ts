import { run } from '../../host/index.js';

/**
 * The runner's realtime priority: below the agents (the profiles' 10) and the probes (9), above everything at
 * normal priority (stress-ng, builds, other labs).
 */
export const RUNNER_RT_PRIORITY = 5;

/**
 * Moves this runner process (every thread) to SCHED_RR at `RUNNER_RT_PRIORITY` with SCHED_RESET_ON_FORK, so the
 * processes it starts (broker, stores, agents: they pick their own priority) run at normal priority again.
 *
 * Why: a trial sleeps `beforeFaultMs`, stamps the fault and injects it while the probes run for a fixed time. Under
 * `--stress cpu=8` (and on a host loaded by other work) the runner, a normal-priority process among eight CPU hogs,
 * woke 1-4.6 s late: the fault landed at +1.7 to +5.4 s instead of +0.8 s, four of 18 trials ended their traffic
 * before the fault (outage "0 ms", "did not recover", "TCP broke: no data after the fault") and others kept only a
 * few hundred ms of traffic after it. Returns false when not permitted (the lab needs root anyway).
 */
export async function raiseRunnerPriority(): Promise<boolean> {
  const r = await run(['chrt', '--all-tasks', '--reset-on-fork', '--rr', '--pid', String(RUNNER_RT_PRIORITY), String(process.pid)], { allowFailure: true, timeoutMs: 5000 }).catch(() => ({ code: 1 }));
  return r.code === 0;
}

/**
 * Back to normal scheduling when the run is over: the runner may be a library call inside a longer process (a test
 * worker that goes on to run other, CPU-heavy tests, which must not run at realtime priority).
 */
export async function restoreRunnerPriority(): Promise<void> {
  await run(['chrt', '--all-tasks', '--other', '--pid', '0', String(process.pid)], { allowFailure: true, timeoutMs: 5000 }).catch(() => undefined);
}

/** Runs `f` with the runner raised (see raiseRunnerPriority), normal again afterwards; `onFail` hears a refusal. */
export async function withRunnerPriority<T>(f: () => Promise<T>, onFail?: () => void): Promise<T> {
  if (!(await raiseRunnerPriority())) onFail?.();
  try {
    return await f();
  } finally {
    await restoreRunnerPriority();
  }
}

/** A fault's command at the runner's priority (its children start at normal priority, see above). */
export function atRunnerPriority(argv: readonly string[]): string[] {
  return ['chrt', '--rr', String(RUNNER_RT_PRIORITY), ...argv];
}
