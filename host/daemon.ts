import { spawn } from 'node:child_process';
import { openSync, closeSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { withNetns } from './exec.js';

export interface DaemonHandle {
  pid: number;
  logFile: string;
  pidFile: string | undefined;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a long-running process in the background with stdio on a log file (never on our pipes, which would
 * make callers hang until it exits), optionally inside a network namespace, and records its pid in `pidFile`
 * so teardown can end exactly this process and nothing else.
 */
export function startDaemon(
  argv: readonly string[],
  opts: { logFile: string; pidFile?: string; netns?: string; env?: NodeJS.ProcessEnv },
): DaemonHandle {
  const full = withNetns(argv, opts.netns);
  const [file, ...args] = full;
  if (!file) throw new Error('startDaemon: empty argv');
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(file, args, { stdio: ['ignore', fd, fd], env: opts.env ?? process.env, detached: true });
    if (child.pid === undefined) throw new Error(`could not start ${file}`);
    child.unref();
    if (opts.pidFile) writeFileSync(opts.pidFile, `${child.pid}\n`);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    return { pid: child.pid, logFile: opts.logFile, pidFile: opts.pidFile, exited };
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Only ever called with pids we started. */
export async function stopPid(pid: number, graceMs = 2000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Stops the process recorded in a pid file (if any) and removes the file. */
export async function stopPidFile(pidFile: string, graceMs = 2000): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (Number.isInteger(pid) && pid > 0) await stopPid(pid, graceMs);
  rmSync(pidFile, { force: true });
}
