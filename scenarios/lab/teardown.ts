import { existsSync, readFileSync, rmSync } from 'node:fs';
import { deleteNetns, isAlive, listNetns, pidsInNetns, runDir, stopPid } from '../../host/index.js';
import { readLabState, writeLabState, type LabDaemon } from './state.js';

const NETNS_RUN = /^st-([a-z0-9]{4,8})-/;

/** The run id a lab namespace belongs to (`st-<runid>-<host>`), or undefined for anything else. */
export function runIdOfNetns(name: string): string | undefined {
  return NETNS_RUN.exec(name)?.[1];
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** Reads a process's command line now, for `LabDaemon.cmdline`. */
export function currentCmdline(pid: number): string | undefined {
  return cmdlineOf(pid);
}

/** Only a recorded daemon whose command line still matches is ended: after a crash the pid may be reused. */
async function stopDaemon(d: LabDaemon): Promise<void> {
  if (!isAlive(d.pid)) return;
  if (d.cmdline !== undefined && cmdlineOf(d.pid) !== d.cmdline) return;
  await stopPid(d.pid, 3000);
}

export interface TeardownReport {
  runId: string;
  namespaces: string[];
  daemons: number;
  processes: number;
}

export interface TeardownOptions {
  /**
   * Keep the run directory (logs and status files a failed test points its reader to), its lab.json marked
   * `down` so that `strait lab status` shows it and `strait lab down <run>` removes it. Everything else goes.
   */
  keepRunDir?: boolean;
}

/**
 * Removes everything of one run: recorded daemons (by pid), any other process still inside the run's
 * namespaces (they can only be the run's own), the namespaces (which takes their veths and bridges along),
 * recorded files outside the run dir, and the run dir. Safe to call repeatedly and after a crash.
 */
export async function teardownRun(runId: string, opts: TeardownOptions = {}): Promise<TeardownReport> {
  const state = readLabState(runId);
  const prefix = `st-${runId}-`;
  const present = (await listNetns()).filter((n) => n.startsWith(prefix));
  const namespaces = [...new Set([...(state?.namespaces ?? []), ...present])];

  const daemons = state?.daemons ?? [];
  await Promise.all(daemons.map((d) => stopDaemon(d)));

  let processes = 0;
  for (const ns of namespaces.filter((n) => present.includes(n))) {
    const pids = await pidsInNetns(ns);
    processes += pids.length;
    await Promise.all(pids.map((p) => stopPid(p, 2000)));
  }
  await Promise.all(namespaces.filter((n) => present.includes(n)).map((n) => deleteNetns(n)));

  for (const f of state?.files ?? []) {
    // Only files that carry the run id are ever recorded; the check keeps a corrupted state file harmless.
    if (f.includes(runId) && existsSync(f)) rmSync(f, { force: true, recursive: true });
  }
  if (opts.keepRunDir) {
    if (state) writeLabState({ ...state, status: 'down', daemons: [], files: [] });
  } else {
    rmSync(runDir(runId), { recursive: true, force: true });
  }
  return { runId, namespaces: present, daemons: daemons.length, processes };
}
