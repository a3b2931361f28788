import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from '../../host/index.js';
import type { HostRole, Topology } from '../topology/model.js';

/** What a lab user sees of one host. */
export interface LabHostInfo {
  netns: string;
  addresses: string[];
  role: HostRole;
  cluster?: string;
}

/** A process the lab (or a tunnel driver it ran) started; `cmdline` guards against pid reuse after a crash. */
export interface LabDaemon {
  pid: number;
  name: string;
  host?: string;
  cmdline?: string;
}

/**
 * `runDir(runId)/lab.json`: written before anything is created and updated as the lab grows, so `lab down`
 * can remove a run's namespaces, daemons and files even after the process that built it crashed.
 */
export interface LabState {
  version: 1;
  runId: string;
  topologyName: string;
  topology: Topology;
  tunnel?: string;
  /** `down`: taken down with its run directory kept (a failed test's logs); `strait lab down <run>` removes it. */
  status: 'building' | 'ready' | 'failed' | 'down';
  createdAt: string;
  /** Every namespace of the run (planned up front, so a half-built lab is fully known). */
  namespaces: string[];
  hosts: Record<string, LabHostInfo>;
  daemons: LabDaemon[];
  /** Files outside the run directory (e.g. WireGuard UAPI sockets in /run/wireguard). */
  files: string[];
  setupMs?: number;
  /** Per-phase timings of the last build, for step output and `lab status`. */
  timings?: Record<string, number>;
}

export function labStatePath(runId: string): string {
  return join(runDir(runId), 'lab.json');
}

export function writeLabState(state: LabState): void {
  const dir = runDir(state.runId);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `lab.json.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, labStatePath(state.runId));
}

export function readLabState(runId: string): LabState | undefined {
  const p = labStatePath(runId);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** Run ids that have a lab.json under the run base (other areas also use run dirs; only labs have this file). */
export function listLabStateIds(base = runDir('x').replace(/\/x$/, '')): string[] {
  if (!existsSync(base)) return [];
  return readdirSync(base).filter((id) => existsSync(join(base, id, 'lab.json')));
}
