import { run, type Logger } from '../../host/index.js';

/**
 * Moves this process (every thread) to SCHED_RR at `priority`, as keepalived does for VRRP (`vrrp_rt_priority`):
 * a failover agent whose 10 ms probes and renewals wait behind CPU-bound work for 50 ms calls healthy gateways dead
 * and lets its own fence lapse. The agent's loop is short timers and small I/O, so it needs little CPU, only soon;
 * the kernel's RT throttling (sched_rt_runtime_us) still keeps a runaway from owning a CPU. Children started later
 * (the nft session) inherit the policy. Returns false (and logs) when not permitted or `chrt` is missing.
 */
export async function raiseToRealtime(priority: number, log: Logger): Promise<boolean> {
  const r = await run(['chrt', '--all-tasks', '--rr', '--pid', String(priority), String(process.pid)], { allowFailure: true, timeoutMs: 5000 }).catch(
    (e: unknown) => ({ code: 1, stdout: '', stderr: e instanceof Error ? e.message : String(e) }),
  );
  if (r.code !== 0) {
    log.warn({ priority, err: r.stderr.trim() }, 'could not raise to realtime scheduling; probes and renewals may run late under load');
    return false;
  }
  log.info({ priority }, 'realtime scheduling (SCHED_RR)');
  return true;
}
