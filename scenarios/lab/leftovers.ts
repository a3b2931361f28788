import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { listNetns, netnsName, runDir } from '../../host/index.js';

/**
 * What of a run is still on the machine: namespaces, processes (anything whose command line or namespace
 * names the run), WireGuard UAPI sockets, the run dir. Empty lists mean `down` left nothing behind.
 */
export interface Leftovers {
  namespaces: string[];
  processes: { pid: number; cmdline: string }[];
  sockets: string[];
  runDir: boolean;
}

function processesOf(runId: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  const needle = new RegExp(`(^|[^a-z0-9])(st-${runId}-|${runId})`);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const raw = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const cmd = raw.replace(/\0+$/, '').replace(/\0/g, ' ');
      if (cmd && needle.test(cmd)) out.push({ pid: Number(d), cmdline: cmd });
    } catch {
      /* process went away */
    }
  }
  return out;
}

/** nsfs inode of each of the run's namespaces (take it before `down`, to find processes still inside later). */
export async function netnsInodes(runId: string): Promise<number[]> {
  return inodesOf((await listNetns()).filter((n) => n.startsWith(`st-${runId}-`)));
}

/** nsfs inode of each named namespace that still exists. */
function inodesOf(names: readonly string[]): number[] {
  return names.flatMap((n) => {
    try {
      return [statSync(`/run/netns/${n}`).ino];
    } catch {
      return []; // deleted meanwhile
    }
  });
}

function processesInNetns(inodes: readonly number[]): { pid: number; cmdline: string }[] {
  const want = new Set(inodes.map((i) => `net:[${i}]`));
  const out: { pid: number; cmdline: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (want.has(readlinkSync(`/proc/${d}/ns/net`))) {
        out.push({ pid: Number(d), cmdline: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ') });
      }
    } catch {
      /* process went away */
    }
  }
  return out;
}

/**
 * `inodes` (from `netnsInodes` before `down`) also finds processes that still hold a deleted namespace alive.
 * The kernel hands a freed namespace inode to the next namespace created: an inode that now names another
 * run's namespace is that run's, not a leftover (npm test, 2026-12-06: the geneve lab's check "found" `ip -n
 * st-<other>-m18 link set lo up`, a CNI test's pod namespace made in the other Jest worker just after `down`).
 */
export async function findLeftovers(runId: string, inodes: readonly number[] = []): Promise<Leftovers> {
  const all = await listNetns();
  const ours = (n: string): boolean => n.startsWith(netnsName(runId, ''));
  const namespaces = all.filter(ours);
  const wgDir = '/run/wireguard';
  const sockets = existsSync(wgDir) ? readdirSync(wgDir).filter((f) => f.includes(runId)).map((f) => `${wgDir}/${f}`) : [];
  const reused = new Set(inodesOf(all.filter((n) => !ours(n))));
  const byNs = processesInNetns(inodes.filter((i) => !reused.has(i)));
  const byName = processesOf(runId).filter((p) => !byNs.some((q) => q.pid === p.pid));
  return { namespaces, processes: [...byNs, ...byName], sockets, runDir: existsSync(runDir(runId)) };
}
